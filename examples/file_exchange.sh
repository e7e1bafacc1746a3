#!/usr/bin/env bash
# A file-based exchange between the two example labs with the `blindmatch` command, step by step.
#
#   examples/file_exchange.sh [MODE]      # MODE: intersection (default), mutual, cardinality, mutual-cardinality
#
# Each lab works in its own folder under demo-output/file-exchange/ and only the numbered message files
# (a-msg0.bin, b-msg1.bin, ...) travel between them: by e-mail, a shared folder, a USB stick. The state
# files (*.state) hold secret scalars: mode 600, never sent, deleted when the exchange ends or fails.
set -euo pipefail
cd "$(dirname "$0")/.."
BM=${BLINDMATCH:-$PWD/.venv/bin/blindmatch}
MODE=${1:-intersection}
DATA=$PWD/examples/data
W=${BLINDMATCH_OUT:-demo-output}/file-exchange
rm -rf "$W" && mkdir -p "$W/lab_a" "$W/lab_b"
A=$W/lab_a B=$W/lab_b

step() { printf '\n== %s\n' "$*"; }

step "once: each lab makes an identity and trusts the other's key (compare fingerprints by phone)"
(cd "$A" && "$BM" keygen identity.pem >/dev/null)
(cd "$B" && "$BM" keygen identity.pem >/dev/null)
(cd "$A" && "$BM" peers add lab-b --public-file ../lab_b/identity.pem.pub \
    --fingerprint "$("$BM" fingerprint --public-file ../lab_b/identity.pem.pub)")
(cd "$B" && "$BM" peers add lab-a --public-file ../lab_a/identity.pem.pub \
    --fingerprint "$("$BM" fingerprint --public-file ../lab_a/identity.pem.pub)")

step "lab A proposes ($MODE) and writes message 0"
(cd "$A" && "$BM" psi initiate --identity identity.pem --peer lab-b --input "$DATA/lab_a.csv" --skip-invalid \
    --mode "$MODE" --purpose "example file exchange" --max-items 8192 --state a.state -q)
cp "$A/a-msg0.bin" "$B/"          # "send" it

step "lab B checks the proposal against its policy and answers with message 1"
(cd "$B" && "$BM" psi respond --identity identity.pem --max-own-items 8192 --input "$DATA/lab_b.csv" --skip-invalid \
    --allow-peer lab-a --message a-msg0.bin --state b.state -q)
cp "$B/b-msg1.bin" "$A/"

step "lab A sends its blinded set (message 2)"
(cd "$A" && "$BM" psi continue --state a.state --message b-msg1.bin -q)
cp "$A/a-msg2.bin" "$B/"

step "lab B answers (message 3)"
(cd "$B" && "$BM" psi continue --state b.state --message a-msg2.bin -q)
cp "$B/b-msg3.bin" "$A/"

step "lab A finishes"
(cd "$A" && "$BM" psi finish --state a.state --message b-msg3.bin -q)
if [[ "$MODE" == mutual* ]]; then
    cp "$A/a-msg4.bin" "$B/"
    step "lab B finishes (mutual modes)"
    (cd "$B" && "$BM" psi finish --state b.state --message a-msg4.bin -q)
fi

step "results"
ls -l "$A" "$B"
echo
echo "Local reports (indicators: keep them local): $A/a-report.json, $B/b-report.json"
echo "Signed disclosure records (shareable):       $A/a-record.json, $B/b-record.json"
