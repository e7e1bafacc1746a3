#!/usr/bin/env bash
# A live exchange over TCP between the two example labs: lab B serves, lab A connects.
#
#   examples/tcp_exchange.sh [MODE]       # MODE: intersection (default), mutual, cardinality, mutual-cardinality
#
# Both run here on loopback (127.0.0.1, the default). Between two sites, lab B would run `serve --host`
# on an address lab A can reach, preferably through a VPN or an SSH tunnel: the session is authenticated
# and encrypted end to end, but the server port is better not exposed to everyone.
set -euo pipefail
cd "$(dirname "$0")/.."
BM=${BLINDMATCH:-$PWD/.venv/bin/blindmatch}
MODE=${1:-intersection}
DATA=$PWD/examples/data
W=${BLINDMATCH_OUT:-demo-output}/tcp-exchange
rm -rf "$W" && mkdir -p "$W/lab_a" "$W/lab_b"
A=$W/lab_a B=$W/lab_b

(cd "$A" && "$BM" keygen identity.pem >/dev/null)
(cd "$B" && "$BM" keygen identity.pem >/dev/null)
# Each lab compares the other's fingerprint over a trusted channel, then passes it to `peers add`.
(cd "$A" && "$BM" peers add lab-b --public-file ../lab_b/identity.pem.pub \
    --fingerprint "$("$BM" fingerprint --public-file ../lab_b/identity.pem.pub)" >/dev/null)
(cd "$B" && "$BM" peers add lab-a --public-file ../lab_a/identity.pem.pub \
    --fingerprint "$("$BM" fingerprint --public-file ../lab_a/identity.pem.pub)" >/dev/null)

echo "== lab B serves one session (any free port, written to $B/port)"
(cd "$B" && exec "$BM" serve --identity identity.pem --max-own-items 8192 --input "$DATA/lab_b.csv" --skip-invalid \
    --allow-peer lab-a --max-sessions 1 --sessions-per-day 10 --port-file port --out-dir . -q) &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 600); do [[ -s "$B/port" ]] && break; kill -0 $SERVER 2>/dev/null || exit 1; sleep 0.1; done

PORT=$(cat "$B/port")
echo "== lab A connects ($MODE) to 127.0.0.1:$PORT"
(cd "$A" && "$BM" connect --identity identity.pem --peer lab-b --port "$PORT" \
    --input "$DATA/lab_a.csv" --skip-invalid --mode "$MODE" --purpose "example TCP exchange" \
    --max-items 8192 --out-dir . -q)
wait $SERVER
trap - EXIT
echo
ls -l "$A" "$B"
