"""``serve`` and ``connect``: a live exchange over TCP, with the same sessions as the file flow."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import time
from typing import Any, TypeAlias

from .._fileio import atomic_write
from ..errors import BlindmatchError, InvalidParameter, RemoteError
from ..executors import Executor
from ..indicator_set import IndicatorSet, PsiItems
from ..psi import mode_spec
from ..published import PublisherSession
from ..session import (
    AuditTerms,
    Identity,
    InitiatorSession,
    Peer,
    PeerStore,
    Policy,
    ResponderSession,
    SessionParty,
)
from ..session.channel import T_HELLO, T_QUERY
from ..session.manifest import STREAM_SUITES
from ..streaming import (
    DEFAULT_BUCKET_ITEMS,
    DEFAULT_CHUNK_ITEMS,
    DEFAULT_FRAME_ITEMS,
    StreamingInitiatorSession,
    StreamingResponderSession,
)
from ..transport import (
    DEFAULT_HANDSHAKE_TIMEOUT,
    DEFAULT_HOST,
    DEFAULT_MAX_FRAME,
    DEFAULT_TIMEOUT,
    PeerDisconnected,
    Server,
    SessionOutcome,
    StateStore,
    StoredSessionBudget,
    StoreError,
    connect_and_run,
)
from ..transport.dispatch import DispatchingParty, inner_party
from ._audit_args import audit_auditor, audit_line, audit_terms, audited_note
from ._common import Messages, port_number, positive_float, positive_int
from ._executor_args import add_executor_args, executor_scope
from ._published_io import (
    FIRST_MESSAGE_LIMIT,
    QueryAnswering,
    add_serve_args,
    load_query_answering,
    query_prefix,
    write_query_record,
)
from ._session_io import (
    ENGINES,
    add_identity_args,
    add_input_args,
    add_near_duplicates_arg,
    add_policy_args,
    add_proposal_args,
    build_policy,
    check_cap,
    check_out_dir,
    check_own_cap,
    finish_outputs,
    load_identity,
    load_inputs,
    load_peers,
    max_items_of,
    session_items,
    summary_lines,
)
from .exitcodes import CliError, ExitCode
from .progress import Progress

__all__ = ["add_parsers"]

#: The store's file name in --out-dir when serve is given no --store.
STORE_NAME = "blindmatch-store.sqlite3"

SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def _add_net_args(p: argparse.ArgumentParser, *, server: bool) -> None:
    g = p.add_argument_group("network")
    where = "listen on" if server else "connect to"
    g.add_argument("--host", default=DEFAULT_HOST, help=f"address to {where} (default: {DEFAULT_HOST})")
    port_help = "TCP port" + (" (default: 0, any free port; see --port-file)" if server else "")
    g.add_argument("--port", type=port_number, required=not server, default=0 if server else None,
                   help=port_help)  # fmt: skip
    timeout_help = f"longest wait for any single read from the peer (default: {DEFAULT_TIMEOUT:g})"
    g.add_argument("--timeout", type=positive_float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                   help=timeout_help)  # fmt: skip
    g.add_argument("--max-frame", type=positive_int, default=DEFAULT_MAX_FRAME, metavar="BYTES",
                   help="largest message accepted (default: 256 MiB)")  # fmt: skip
    p.add_argument("--workers", type=positive_int, default=None,
                   help="processes for the PSI work (default: 1)")  # fmt: skip
    add_executor_args(p)
    p.add_argument("--out-dir", default="blindmatch-out", metavar="DIR",
                   help="where reports and records go (default: blindmatch-out)")  # fmt: skip
    s = p.add_argument_group(
        "streaming engines (--engine stream|stream-ot / --allow-engine stream|stream-ot; docs/streaming.md)"
    )
    s.add_argument("--stream-workdir", metavar="DIR",
                   help="where the spill files go, mode 700, deleted after each session; as sensitive as "
                   "the input (default: OUT_DIR/stream-tmp)")  # fmt: skip
    s.add_argument("--chunk-items", type=positive_int, default=DEFAULT_CHUNK_ITEMS, metavar="N",
                   help=f"items held in memory at once (default: {DEFAULT_CHUNK_ITEMS})")  # fmt: skip
    s.add_argument("--frame-items", type=positive_int, default=DEFAULT_FRAME_ITEMS, metavar="N",
                   help=f"elements per chunk on the wire, stream engine; both sides must agree (default: "
                   f"{DEFAULT_FRAME_ITEMS})")  # fmt: skip
    s.add_argument("--bucket-items", type=positive_int, default=DEFAULT_BUCKET_ITEMS, metavar="N",
                   help=f"items per bucket, stream-ot engine (its memory bound); both sides must agree "
                   f"(default: {DEFAULT_BUCKET_ITEMS})")  # fmt: skip
    p.add_argument("--html", action="store_true",
                   help="also write each report as one HTML page, <prefix>report.html (mode 600; "
                   "docs/html-report.md)")  # fmt: skip


def add_parsers(sub: SubParsers, common: argparse.ArgumentParser) -> None:
    s = sub.add_parser(
        "serve",
        parents=[common],
        help="answer exchanges over TCP (responder)",
        description="Listen for peers from the trust store and answer each one's session with our "
        "indicators, under our policy. Writes each session's local report and disclosure record.",
    )
    add_identity_args(s)
    add_input_args(s, required=False)  # not needed to answer published-set queries only
    add_near_duplicates_arg(s)
    add_policy_args(s)
    _add_net_args(s, server=True)
    s.add_argument("--max-sessions", type=positive_int, metavar="N", help="stop after N sessions")
    s.add_argument("--sessions-per-day", type=positive_int, default=24, metavar="N",
                   help="per-peer budget of sessions per UTC day (default: 24), kept in --store")  # fmt: skip
    s.add_argument("--store", metavar="FILE",
                   help="SQLite file of what serve keeps across restarts: the daily session budgets "
                   "(created with mode 0600; servers may share one; default: "
                   f"{STORE_NAME} in --out-dir)")  # fmt: skip
    s.add_argument("--session-timeout", type=positive_float, default=3600.0, metavar="SECONDS",
                   help="longest a whole session may take (default: 3600)")  # fmt: skip
    s.add_argument("--handshake-timeout", type=positive_float, default=DEFAULT_HANDSHAKE_TIMEOUT,
                   metavar="SECONDS",
                   help="how long a new connection has to send its whole hello (default: "
                   f"{DEFAULT_HANDSHAKE_TIMEOUT:g}); until then it holds no session slot")  # fmt: skip
    s.add_argument("--max-handshakes", type=positive_int, default=64, metavar="N",
                   help="connections that may wait for their whole hello at once (default: 64; at most 8 "
                   "per source address or IPv6 /64); past that one that has not sent its hello is dropped "
                   "at random")  # fmt: skip
    s.add_argument("--port-file", metavar="FILE", help="write the port listened on to FILE (for port 0)")
    add_serve_args(s)
    s.set_defaults(func=run_serve)

    c = sub.add_parser(
        "connect",
        parents=[common],
        help="start an exchange with a serving peer over TCP (initiator)",
        description="Connect to a peer's `blindmatch serve`, propose a session and run it. Writes the local "
        "report and the disclosure record to --out-dir.",
    )
    add_identity_args(c)
    add_input_args(c)
    add_near_duplicates_arg(c)
    add_proposal_args(c)
    _add_net_args(c, server=False)
    c.set_defaults(func=run_connect)


def _prefix(party: InitiatorSession | ResponderSession, peer: str | None) -> str:
    m = party.manifest
    sid = m.session_id.hex()[:12] if m is not None else "unknown"
    return f"{peer or 'unknown-peer'}-{sid}-"


def _finish_outputs(
    party: InitiatorSession | ResponderSession,
    iset: IndicatorSet,
    out_dir: str,
    prefix: str,
    started: float,
    near_duplicates: str | None,
    html: bool = False,
) -> list[str]:
    """Write whatever the session produced; returns summary lines."""
    report, paths = finish_outputs(
        iset, party, out_dir, prefix, started=started, near_duplicates=near_duplicates, html=html
    )
    lines: list[str] = []
    if report is not None:
        peer = report.peer or "peer"
        lines += summary_lines(report, peer=peer, seconds=time.time() - started)
    for p in paths:
        lines.append(f"  wrote {p}")
    note = audit_line(party, paths)
    if note is not None:
        lines.append(f"  {note}")
    if not party.done:
        lines.append("  no disclosure record: the session stopped before its end (see the error)")
    return lines


def _stream_workdir(args: argparse.Namespace) -> str:
    """``--stream-workdir`` (default ``OUT_DIR/stream-tmp``), made with mode 700 when missing."""
    path = args.stream_workdir or os.path.join(args.out_dir, "stream-tmp")
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise CliError(ExitCode.LOCAL, f"cannot make {path}: {exc.strerror or exc}") from None
    return path


def _session_of(party: object) -> object:
    """The session party inside a streaming wrapper (outputs and records are the session's)."""
    return (
        party.session if isinstance(party, StreamingInitiatorSession | StreamingResponderSession) else party
    )


def _initiator(
    args: argparse.Namespace,
    identity: Identity,
    peer: Peer,
    items: PsiItems,
    bar: Progress,
    audit: AuditTerms | None,
    executor: Executor | None,
) -> InitiatorSession | StreamingInitiatorSession:
    stream = getattr(args, "engine", "dh") in ("stream", "stream-ot")
    try:
        if stream:
            return StreamingInitiatorSession(
                identity, peer.public, workdir=_stream_workdir(args), chunk_items=args.chunk_items,
                frame_items=args.frame_items, bucket_items=args.bucket_items,
                psi_suite=ENGINES[args.engine],
                indicators=items.indicators, prompt_profile=items.manifest_profile, mode=args.mode,
                max_items=max_items_of(args), padding=args.padding, purpose=args.purpose,
                validity_s=args.validity, peer_name=peer.name, progress=bar.callback, audit=audit,
            )  # fmt: skip
        return InitiatorSession(
            identity,
            peer.public,
            indicators=items.indicators,
            prompt_profile=items.manifest_profile,
            mode=args.mode,
            max_items=max_items_of(args),
            padding=args.padding,
            purpose=args.purpose,
            validity_s=args.validity,
            peer_name=peer.name,
            workers=args.workers,
            executor=executor,
            progress=bar.callback,
            audit=audit,
            psi_suite=ENGINES[getattr(args, "engine", "dh")],
        )
    except InvalidParameter as exc:
        raise CliError(ExitCode.USAGE, str(exc)) from None


def run_connect(args: argparse.Namespace) -> int:
    msgs = Messages(args.quiet)
    identity = load_identity(args.identity)
    peers = load_peers(args.peers)
    try:
        peer = peers.get(args.peer)
    except InvalidParameter:
        raise CliError(
            ExitCode.PEER, f"no peer named {args.peer!r} in {args.peers} (add it with `peers add`)"
        ) from None
    audit = audit_terms(args)
    check_out_dir(args.out_dir)
    iset = load_inputs(args, msgs)
    items = session_items(iset, args.near_duplicates, msgs)
    check_cap(items, int(args.max_items))
    if audit is not None:
        msgs.info(audited_note(audit))
    error: BlindmatchError | None = None
    steps = 2 + mode_spec(args.mode).messages  # hello, accept, then the PSI messages (docs/sessions.md)
    sent = received = 0
    # one bar: the PSI stages drive its count, the messages exchanged show after it
    bar = Progress(f"exchange with {args.peer}", quiet=msgs.quiet, ticking=True)
    with bar, executor_scope(args) as executor:
        party = _initiator(args, identity, peer, items, bar, audit, executor)
        started = time.time()
        msgs.info(f"connecting to {args.peer} at {args.host}:{args.port} ...")

        def on_event(what: str, _size: int) -> None:
            nonlocal sent, received
            sent += 1
            received += what == "received"
            bar.note(f"message {sent}/{steps}")

        try:
            asyncio.run(
                connect_and_run(
                    party, args.host, args.port, max_frame=args.max_frame, timeout=args.timeout,
                    on_event=on_event,
                )
            )  # fmt: skip
        except BlindmatchError as exc:
            error = exc
    # named by session, as serve names them: a second exchange never replaces the first one's outputs
    session = party.session if isinstance(party, StreamingInitiatorSession) else party
    prefix = _prefix(session, peer.name)
    lines = _finish_outputs(session, iset, args.out_dir, prefix, started, args.near_duplicates, args.html)
    if error is not None:
        for line in lines:
            msgs.info(line.strip())
        hint = ""
        if isinstance(error, PeerDisconnected) and sent and not received:
            hint = (
                " before answering our hello: the peer does not know or trust our key (its operator must "
                "`peers add` it; compare `blindmatch fingerprint`), or it refused the connection (a limit)"
            )
        raise CliError(_code_of(error), f"exchange with {args.peer} failed: {error}{hint}")
    for line in lines:
        msgs.out(line)
    return ExitCode.OK


def _code_of(exc: BaseException) -> ExitCode:
    if isinstance(exc, RemoteError):
        return ExitCode.PEER
    if isinstance(exc, BlindmatchError):
        return ExitCode.LOCAL
    return ExitCode.INTERNAL


class _ServeSessions:
    """What ``serve`` does per connection: make the responder party, and write its outputs at the end."""

    def __init__(
        self,
        args: argparse.Namespace,
        msgs: Messages,
        identity: Identity,
        peers: PeerStore,
        exchange: tuple[IndicatorSet, Policy] | None,
        answering: QueryAnswering | None = None,
    ) -> None:
        """``exchange``: our indicators and policy (None: answer published-set queries only)."""
        self._args, self._msgs, self._answering = args, msgs, answering
        self._identity, self._peers = identity, peers
        self._iset: IndicatorSet | None = exchange[0] if exchange is not None else None
        self._policy = exchange[1] if exchange is not None else Policy()
        # One IndicatorItems for every connection: each responder takes the kinds its proposal names
        # (nothing re-encoded or copied per connection); the result maps back through ``iset``.
        self._indicators = self._iset.psi_items(args.near_duplicates).indicators if self._iset else None
        self._seen: set[bytes] = set()
        self._bars: dict[int, Progress] = {}  # one bar per running session (sessions may overlap)
        self.failures: list[SessionOutcome] = []  # authenticated sessions that failed
        self.server: Server | None = None
        self.stopped_by: int | None = None  # the signal that stopped serve
        self.executor: Executor | None = None  # --executor: where the sessions' PSI work runs

    def stop(self, signum: int, why: str) -> None:
        """A signal handler: stop accepting, end running sessions with signed failed records."""
        self.stopped_by = signum
        if self.server is not None:
            self.server.stop(why)

    def factory(self, addr: str) -> SessionParty:
        bar = Progress(f"session from {addr}", quiet=self._msgs.quiet)

        def responder() -> SessionParty:
            kwargs: dict[str, Any] = dict(
                indicators=self._indicators, seen_session_ids=self._seen, progress=bar.callback,
                workers=self._args.workers, executor=self.executor,
            )  # fmt: skip
            if self._policy.psi_suites & set(STREAM_SUITES):  # hands over when the proposal streams
                return StreamingResponderSession(
                    self._identity, self._peers, self._policy, workdir=_stream_workdir(self._args),
                    chunk_items=self._args.chunk_items, frame_items=self._args.frame_items,
                    bucket_items=self._args.bucket_items, **kwargs,
                )  # fmt: skip
            return ResponderSession(self._identity, self._peers, self._policy, **kwargs)

        exchanges = responder if self._indicators is not None else None
        try:
            party: SessionParty = (
                responder() if self._answering is None
                else DispatchingParty(
                    {T_QUERY: self._answering.party, **({T_HELLO: exchanges} if exchanges else {})},
                    exchanges, first_message_limit=FIRST_MESSAGE_LIMIT,
                )
            )  # fmt: skip
        except BaseException:
            bar.close()
            raise
        if bar.shown:
            self._bars[id(party)] = bar
        return party

    def _query_outcome(self, o: SessionOutcome, party: PublisherSession) -> None:
        """A published-set query: its signed record (the publisher learns no match, so no report)."""
        who = party.peer_name or o.peer
        lines: list[str] = []
        try:
            record = party.record()
            path = write_query_record(record, self._args.out_dir, query_prefix(party.peer_name, record))
            asked = ", ".join(f"{k} {n}" for k, n in sorted((record.get("counts") or {}).items()))
            epoch = record.get("epoch")
            lines = [f"answered a query from {who} (epoch {epoch!r}: {asked})", f"  wrote {path}"]
        except (BlindmatchError, CliError, OSError) as exc:
            lines = [f"  could not write the query record: {exc}"]
        if o.error is not None:
            self.failures.append(o)
            self._msgs.warn(f"query from {o.peer} failed: {o.error}")
        elif party.refusal_reason is not None:
            self._msgs.info(f"refused a query from {who}: {party.refusal_reason}")
        for line in lines[1:] if o.error is not None or party.refusal_reason is not None else lines:
            self._msgs.info(line.strip())

    def on_outcome(self, o: SessionOutcome) -> None:
        bar = self._bars.pop(id(o.party), None)
        if bar is not None:
            bar.close()
        party, msgs, args = _session_of(inner_party(o.party)), self._msgs, self._args
        if isinstance(party, PublisherSession):
            self._query_outcome(o, party)
            return
        if not isinstance(party, ResponderSession) or self._iset is None:
            msgs.warn(f"connection from {o.peer} closed before a session began: {o.error}")
            if o.error is not None:
                self.failures.append(o)
            return
        try:
            lines = _finish_outputs(
                party, self._iset, args.out_dir, _prefix(party, party.peer_name), o.started,
                args.near_duplicates, args.html,
            )  # fmt: skip
        except (BlindmatchError, CliError, OSError) as exc:
            lines = [f"  could not write outputs: {exc}"]
        if o.error is not None:
            self.failures.append(o)
            msgs.warn(f"session from {o.peer} failed: {o.error}")
        elif party.refusal_reason is not None:
            msgs.info(f"refused a session from {o.peer}: {party.refusal_reason}")
        for line in lines:
            if o.error is None and party.result is not None:
                msgs.out(line)
            else:
                msgs.info(line.strip())


def _peer_of(party: SessionParty, addr: str) -> str:
    """What the per-peer session limit counts: the trusted peer's name once its hello verified."""
    kinds = (ResponderSession, DispatchingParty, StreamingResponderSession)
    name = party.peer_name if isinstance(party, kinds) else None
    return f"peer:{name}" if name else f"address:{addr}"


async def _serve(args: argparse.Namespace, sessions: _ServeSessions, msgs: Messages, what: str) -> None:
    server = Server(
        sessions.factory,
        host=args.host,
        port=args.port,
        max_frame=args.max_frame,
        timeout=args.timeout,
        session_timeout=args.session_timeout,
        handshake_timeout=args.handshake_timeout,
        on_outcome=sessions.on_outcome,
        on_unauthenticated=msgs.warn,  # junk connections: at most one summed-up line per interval
        max_sessions=args.max_sessions,
        max_handshakes=args.max_handshakes,
        peer_key=_peer_of,
    )
    sessions.server = server
    host, port = await server.start()
    loop = asyncio.get_running_loop()
    for signum, why in ((signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "interrupted (Ctrl-C)")):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # no signal handlers on this platform
            loop.add_signal_handler(signum, sessions.stop, signum, why)
    if args.port_file:
        atomic_write(args.port_file, f"{port}\n".encode(), mode=0o644)
    msgs.info(f"listening on {host}:{port} with {what}; Ctrl-C stops")
    await server.serve()


def _open_store(args: argparse.Namespace) -> StateStore:
    """The store of ``--store`` (default: :data:`STORE_NAME` in ``--out-dir``), or exit 5 (LOCAL)."""
    try:
        return StateStore(args.store or os.path.join(args.out_dir, STORE_NAME))
    except StoreError as exc:
        raise CliError(ExitCode.LOCAL, str(exc)) from None


def _exchange_setup(
    args: argparse.Namespace, msgs: Messages, iset: IndicatorSet, store: StateStore
) -> tuple[tuple[IndicatorSet, Policy], str]:
    """Our indicators and policy for exchanges, and what the banner says of them."""
    budget = StoredSessionBudget(store, args.sessions_per_day)
    items = session_items(iset, args.near_duplicates, msgs)
    check_own_cap(items, int(args.max_own_items))
    policy = build_policy(args, budget, prompt_profile=items.profile.tag if items.profile else None)
    return (iset, policy), (f"{len(items)} items" if items.profile else f"{len(iset)} indicators")


def run_serve(args: argparse.Namespace) -> int:
    msgs = Messages(args.quiet)
    identity = load_identity(args.identity)
    peers = load_peers(args.peers)
    if not len(peers):
        raise CliError(ExitCode.LOCAL, f"no peers in {args.peers}: nobody could connect")
    auditor = audit_auditor(args)  # a bad --audit-to file stops serve before anything is read
    check_out_dir(args.out_dir)
    if not args.input and not args.publish_key:
        raise CliError(ExitCode.USAGE, "serve needs --input (our indicators for exchanges), or --publish-key "
                       "and --published to answer published-set queries only")  # fmt: skip
    iset = load_inputs(args, msgs) if args.input else None
    store = _open_store(args)  # before listening: a store that cannot be used stops serve here
    exchange, what = _exchange_setup(args, msgs, iset, store) if iset is not None else (None, "no exchanges")
    answering = load_query_answering(args, identity, peers, store, msgs)
    sessions = _ServeSessions(args, msgs, identity, peers, exchange, answering)
    if answering is not None:
        what += f", answering queries on epoch(s) {', '.join(map(repr, answering.epochs))}"
    if auditor is not None:
        what += f", audited sessions only (auditor {auditor.fingerprint})"
    with contextlib.suppress(KeyboardInterrupt), store, executor_scope(args) as sessions.executor:
        asyncio.run(_serve(args, sessions, msgs, what))
    if sessions.stopped_by is not None:
        code = ExitCode.TERMINATED if sessions.stopped_by == signal.SIGTERM else ExitCode.INTERRUPTED
        raise CliError(code, "serve stopped; running sessions ended with signed failed records")
    failures = sessions.failures
    junk = sessions.server.stats.unauthenticated if sessions.server is not None else 0
    if args.max_sessions is not None and (failures or junk):
        last = failures[-1].error if failures else None
        raise CliError(_code_of(last) if last else ExitCode.PEER,
                       f"{len(failures) + junk} session(s) or connection(s) failed")  # fmt: skip
    return ExitCode.OK
