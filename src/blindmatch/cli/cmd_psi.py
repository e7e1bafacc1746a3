"""``psi initiate|respond|continue|finish|abort``: an exchange over message files, one command per step.

Messages are numbered as the session numbers them::

    0  A  psi initiate            -> hello      (A keeps a state file)
    1  B  psi respond   (0)       -> accept     (B keeps a state file) or a refusal
    2  A  psi continue  (1)       -> request
    3  B  psi continue  (2)       -> response   (B is done unless the mode is mutual*)
    4  A  psi finish    (3)       -> result; in mutual modes also a confirm for B
    -  B  psi finish    (4)       -> result     (mutual modes only)

``continue`` and ``finish`` are the same step; each prints what to do next.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import NoReturn, TypeAlias

from .._fileio import check_regular_target, read_capped
from ..errors import BlindmatchError, FileAccessError, InvalidParameter, MalformedFile, RemoteError
from ..fingerprints import get_profile
from ..outputs import LocalReport
from ..session import InitiatorSession, ResponderSession
from ..session.channel import HEADER_BYTES, MAGIC, ROLE_INITIATOR, ROLE_RESPONDER
from ..transport import delete_state, read_message, write_message
from ..transport.files import DEFAULT_MAX_MESSAGE
from ._audit_args import AUDIT_SUFFIX, audit_line, audit_terms, audited_note
from ._common import Messages, add_deprecated_alias, positive_int
from ._executor_args import add_executor_args, executor_scope
from ._ledger import StepLedger
from ._session_io import (
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
    input_spec,
    load_identity,
    load_inputs,
    load_peers,
    max_items_of,
    session_items,
    summary_lines,
    write_outputs,
)
from ._step_state import StepState, new_party, new_seed, policy_to_dict, restore_party
from .exitcodes import CliError, ExitCode
from .progress import Progress

__all__ = ["add_parsers"]

SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
_ROLE_AT, _SEQ_AT, _KEY_AT = 6, 8, 60  # offsets in a session message's header (session/channel.py)

_NEXT = {
    ("initiator", 0): "send {out} to {peer}; they run `blindmatch psi respond --message {name} ...`",
    ("responder", 1): "send {out} to {peer}; they run `blindmatch psi continue --state ... --message {name}`",
    ("initiator", 2): "send {out} to {peer}; they run `blindmatch psi continue --state ... --message {name}`",
    ("responder", 3): "send {out} to {peer}; they run `blindmatch psi finish --state ... --message {name}`",
    ("initiator", 4): "send {out} to {peer}; they run `blindmatch psi finish --state ... --message {name}`",
}


def _add_step_args(p: argparse.ArgumentParser, *, first: bool) -> None:
    p.add_argument(
        "--state",
        required=True,
        metavar="FILE",
        help="this side's state file (secret, mode 600; deleted at the end)",
    )
    p.add_argument(
        "--out",
        metavar="FILE",
        help="message to send (default: <state>-msg<N>.bin beside the state; - is stdout)",
    )
    p.add_argument("--html", action="store_true",
                   help="if this step ends the exchange, also write the report as one HTML page, "
                   "<prefix>report.html (mode 600; docs/html-report.md)")  # fmt: skip
    if first:
        p.add_argument(
            "--out-dir", metavar="DIR", help="where the report and record go (default: beside the state file)"
        )
        p.add_argument("--workers", type=positive_int, default=1,
                       help="processes for the PSI work (default: 1)")  # fmt: skip


def _add_message_arg(p: argparse.ArgumentParser) -> None:
    # --message, not --in: `psi respond` also takes --input (our indicators)
    p.add_argument("--message", metavar="FILE", help="the message received from the peer (required)")
    add_deprecated_alias(p, "--in", "--message", "message", metavar="FILE")


def _message_path(args: argparse.Namespace) -> str:
    if not args.message:
        raise CliError(ExitCode.USAGE, "give the peer's message: --message FILE")
    return str(args.message)


def add_parsers(sub: SubParsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "psi",
        parents=[common],
        help="an exchange over message files, one step per command",
        description="Run an exchange by message files sent by any means (e-mail, shared folder). See "
        "docs/cli.md for the steps.",
    )
    p.set_defaults(func=lambda args: _usage())
    ps = p.add_subparsers(dest="psi_command", metavar="STEP")

    i = ps.add_parser("initiate", parents=[common], help="propose an exchange: write the first message")
    add_identity_args(i)
    add_input_args(i)
    add_near_duplicates_arg(i)
    add_proposal_args(i, validity=24 * 3600)  # message files may take a while to travel
    _add_step_args(i, first=True)
    i.set_defaults(func=run_initiate)

    r = ps.add_parser("respond", parents=[common], help="answer a proposal (first message) under our policy")
    add_identity_args(r)
    add_input_args(r)
    add_near_duplicates_arg(r)
    add_policy_args(r)
    _add_message_arg(r)
    _add_step_args(r, first=True)
    r.set_defaults(func=run_respond)

    for name, helptext in (
        ("continue", "take the peer's next message and write ours"),
        ("finish", "take the peer's last message: write the report and record (same as continue)"),
    ):
        c = ps.add_parser(name, parents=[common], help=helptext)
        _add_message_arg(c)
        _add_step_args(c, first=False)
        add_executor_args(c)  # the steps that do PSI work; never saved in the state file
        c.set_defaults(func=run_continue)

    a = ps.add_parser("abort", parents=[common], help="give up an exchange: wipe and delete its state file")
    a.add_argument("--state", required=True, metavar="FILE")
    a.set_defaults(func=run_abort)


def _usage() -> int:
    raise CliError(ExitCode.USAGE, "choose a step: blindmatch psi initiate|respond|continue|finish|abort")


def _default_out(state_path: Path, seq: int) -> Path:
    return state_path.with_name(f"{state_path.stem}-msg{seq}.bin")


def _out_dir_prefix(args: argparse.Namespace, state_path: Path) -> tuple[str, str]:
    if args.out_dir:
        return str(Path(args.out_dir).resolve()), ""
    return str(state_path.resolve().parent), f"{state_path.stem}-"


def _read_in(path: str) -> bytes:
    try:
        return read_message(path)
    except InvalidParameter as exc:
        raise CliError(ExitCode.LOCAL, str(exc)) from None


def _check_out(args: argparse.Namespace, msgs: Messages) -> None:
    """Before anything else: ``--out`` must be a regular file or a new path, or ``-`` (standard output)."""
    if args.out is None:
        return
    if args.out == "-":
        if sys.stdout.isatty():
            raise CliError(ExitCode.USAGE, "--out -: standard output is a terminal; redirect it to a file")
        msgs.stdout_is_data = True  # summaries go to standard error
        return
    try:
        check_regular_target(args.out)
    except FileAccessError as exc:
        raise CliError(ExitCode.LOCAL, f"--out: {exc}") from None


def _write_out(path: Path, data: bytes) -> Path:
    if str(path) == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return path
    try:
        return write_message(path, data)
    except InvalidParameter as exc:
        raise CliError(ExitCode.LOCAL, str(exc)) from None


def _announce(msgs: Messages, role: str, seq: int, out: Path, peer: str | None) -> None:
    template = _NEXT.get((role, seq))
    where = "standard output" if str(out) == "-" else str(out)
    msgs.out(f"wrote message {seq} to {where}")
    if template:
        msgs.info("next: " + template.format(out=where, name=out.name, peer=peer or "the peer"))


def run_initiate(args: argparse.Namespace) -> int:
    msgs = Messages(args.quiet)
    _check_out(args, msgs)
    state_path = Path(args.state)
    if state_path.exists():
        raise CliError(ExitCode.LOCAL, f"{state_path} exists already (an exchange in progress?)")
    load_identity(args.identity)  # a missing or unsafe key fails before anything is written
    peers = load_peers(args.peers)
    try:
        peer = peers.get(args.peer)
    except InvalidParameter:
        raise CliError(ExitCode.PEER, f"no peer named {args.peer!r} in {args.peers}") from None
    if getattr(args, "engine", "dh") != "dh":
        raise CliError(
            ExitCode.USAGE,
            "the OT engine and the streaming engine run over `connect`/`serve` only (no file steps)",
        )
    audit = audit_terms(args)
    out_dir, prefix = _out_dir_prefix(args, state_path)
    check_out_dir(out_dir)
    spec = input_spec(args)
    iset = load_inputs(args, msgs, spec)
    items = session_items(iset, args.near_duplicates, msgs)
    check_cap(items, int(args.max_items))
    # the session proposes the manifest itself: its session id derives from the party's seed
    proposal = {
        "mode": args.mode, "prompt_profile": items.manifest_profile, "max_items": max_items_of(args),
        "padding": args.padding, "purpose": args.purpose, "validity_s": args.validity, "audit": audit,
    }  # fmt: skip
    if audit is not None:
        msgs.info(audited_note(audit))
    state = StepState(
        role="initiator",
        seed=new_seed(),
        identity=str(Path(args.identity).resolve()),
        inputs=spec,
        workers=args.workers,
        peer_name=peer.name,
        peer_key=peer.public.to_text(),
        out_dir=out_dir,
        prefix=prefix,
        started=time.time(),
        near_duplicates=args.near_duplicates,
    )
    state.adopt(iset)
    try:
        party = new_party(state, **proposal)
        hello = party.start()
    except InvalidParameter as exc:
        raise CliError(ExitCode.USAGE, str(exc)) from None
    state.party = party.save_state()
    state.next_seq = 1
    state.save(state_path, overwrite=False)
    out = _write_out(Path(args.out) if args.out else _default_out(state_path, 0), hello)
    _announce(msgs, "initiator", 0, out, peer.name)
    return ExitCode.OK


def run_respond(args: argparse.Namespace) -> int:
    msgs = Messages(args.quiet)
    _check_out(args, msgs)
    state_path = Path(args.state)
    if state_path.exists():
        raise CliError(ExitCode.LOCAL, f"{state_path} exists already (an exchange in progress?)")
    load_identity(args.identity)
    peers = load_peers(args.peers)
    out_dir, prefix = _out_dir_prefix(args, state_path)
    check_out_dir(out_dir)
    spec = input_spec(args)
    iset = load_inputs(args, msgs, spec)
    tag = get_profile(args.near_duplicates).tag if args.near_duplicates else None
    check_own_cap(session_items(iset, args.near_duplicates), int(args.max_own_items))
    policy = build_policy(args, prompt_profile=tag)
    state = StepState(
        role="responder",
        seed=new_seed(),
        identity=str(Path(args.identity).resolve()),
        inputs=spec,
        workers=args.workers,
        peers_json=peers.to_json(),
        policy=policy_to_dict(policy),
        out_dir=out_dir,
        prefix=prefix,
        started=time.time(),
        near_duplicates=args.near_duplicates,
    )
    state.adopt(iset)
    return _step(args, msgs, state, state_path, _read_in(_message_path(args)), first=True)


def run_continue(args: argparse.Namespace) -> int:
    msgs = Messages(args.quiet)
    _check_out(args, msgs)
    state_path = Path(args.state)
    state = StepState.load(state_path)
    incoming = _read_in(_message_path(args))
    _refuse_own_message(state, incoming, args.message)
    state.indicators()  # read the inputs again, refused (state kept) when they changed
    with executor_scope(args) as state.executor:  # this step only: --executor replaces the saved --workers
        return _step(args, msgs, state, state_path, incoming, first=False)


def _refuse_own_message(state: StepState, incoming: bytes, path: str) -> None:
    """A message this side wrote (its role byte and sender key are ours: ``docs/sessions.md``) given back
    to a step is an operator's mix-up, not the peer's doing: a usage error, before the state is touched
    (the session would take it as a reflection and end the exchange)."""
    if len(incoming) < HEADER_BYTES or incoming[: len(MAGIC)] != MAGIC:
        return
    ours = ROLE_INITIATOR if state.role == "initiator" else ROLE_RESPONDER
    if incoming[_ROLE_AT] != ours:
        return
    if incoming[_KEY_AT : _KEY_AT + 32] != load_identity(state.identity).public.raw:
        return
    seq = int.from_bytes(incoming[_SEQ_AT : _SEQ_AT + 4], "big")
    raise CliError(
        ExitCode.USAGE,
        f"{path} is a message this side wrote (message {seq}), not the peer's: give the message the peer "
        "sent (the state is unchanged)",
    )


def _step(
    args: argparse.Namespace,
    msgs: Messages,
    state: StepState,
    state_path: Path,
    incoming: bytes,
    *,
    first: bool,
) -> int:
    party: InitiatorSession | ResponderSession | None = None
    resend = state.consumed(incoming)  # the message the last step took: the same answer again
    in_seq = state.next_seq - 2 if resend else state.next_seq  # the number of the message we take
    ledger = StepLedger(state_path)  # outside the state file: an old copy of it cannot take another message
    ledger.check(state.seed, in_seq, incoming)
    try:
        with Progress(f"psi step {state.next_seq + 1}", quiet=msgs.quiet, ticking=True) as bar:
            party = new_party(state, bar.callback) if first else restore_party(state, bar.callback)
            out = party.receive(incoming)
    except BlindmatchError as exc:
        _step_failed(msgs, state, state_path, party, exc, first=first)
    ledger.record(state.seed, in_seq, incoming)  # before any answer or result leaves this step
    seq = in_seq + 1  # the number of our answer
    out_path = (Path(args.out) if args.out else _default_out(state_path, seq)) if out is not None else None
    if party.done:
        # ours first: the last message may give the peer its result
        report, paths = _keep_ours(state, party, html=args.html)
        _wipe(state_path, first)
        if out_path is not None and out is not None:
            _write_out(out_path, out)
        _finish(msgs, state, party, report, paths, seq, out_path)
        return ExitCode.OK
    if out is None or out_path is None:
        raise CliError(ExitCode.INTERNAL, "the session neither answered nor ended")
    if not resend:
        if state.peer_name is None:
            state.peer_name = party.peer_name
        state.advance(party.save_state(), incoming, seq + 1)
        state.save(state_path, overwrite=not first)  # the state first: never behind the message sent
    _write_out(out_path, out)
    _announce(msgs, party.role, seq, out_path, state.peer_name)
    return ExitCode.OK


def _step_failed(
    msgs: Messages,
    state: StepState,
    state_path: Path,
    party: InitiatorSession | ResponderSession | None,
    exc: BlindmatchError,
    *,
    first: bool,
) -> NoReturn:
    if party is None or not party.done:
        if isinstance(exc, RemoteError):
            _wipe(state_path, first)
            raise CliError(ExitCode.PEER, f"cannot resume: {exc}") from None
        raise exc
    # The session failed on this message: keep the signed record of the failure (and an audited session's
    # package, which the record names), drop the secrets.
    _wipe(state_path, first)
    paths = write_outputs(
        state.out_dir, state.prefix, report=None, record=party.record(), audit_package=party.audit_package()
    )
    for p in paths:
        msgs.info(f"wrote {p} (" + ("audit package" if p.name.endswith(AUDIT_SUFFIX) else "record")
                  + " of the failed exchange)")  # fmt: skip
    note = audit_line(party, paths)
    if note is not None:
        msgs.info(note)
    code = ExitCode.PEER if isinstance(exc, RemoteError) else ExitCode.LOCAL
    raise CliError(code, f"the exchange failed: {exc}; state deleted") from None


def _keep_ours(
    state: StepState, party: InitiatorSession | ResponderSession, *, html: bool = False
) -> tuple[LocalReport | None, list[Path]]:
    """The last step's report and record, written before its message leaves: when they cannot be written,
    nothing is sent and the state file is kept, so the step can run again once the folder is fixed."""
    try:
        return finish_outputs(
            state.indicators(), party, state.out_dir, state.prefix, started=state.started,
            near_duplicates=state.near_duplicates, html=html,
        )  # fmt: skip
    except (CliError, BlindmatchError, OSError) as exc:
        text = exc.message if isinstance(exc, CliError) else str(exc)
        raise CliError(
            ExitCode.LOCAL, f"{text}; nothing was sent and the state is kept: fix it and run this step again"
        ) from None


def _finish(
    msgs: Messages,
    state: StepState,
    party: InitiatorSession | ResponderSession,
    report: LocalReport | None,
    paths: list[Path],
    seq: int,
    out_path: Path | None,
) -> None:
    """The last step: what to tell the operator."""
    if isinstance(party, ResponderSession) and party.refusal_reason is not None:
        msgs.out(f"refused the proposal: {party.refusal_reason}")
        if out_path is not None:
            msgs.out(f"wrote the signed refusal to {out_path}: send it so the peer learns why")
    elif report is not None:
        for line in summary_lines(report, peer=report.peer or "peer"):
            msgs.out(line)
        if out_path is not None:
            msgs.out(f"wrote message {seq} to {out_path}")
            msgs.info("next: " + _NEXT[(party.role, seq)].format(
                out=out_path, name=out_path.name, peer=state.peer_name or "the peer"))  # fmt: skip
    for p in paths:
        msgs.out(f"  wrote {p}")
    note = audit_line(party, paths)
    if note is not None:
        msgs.out(f"  {note}")


def _wipe(state_path: Path, first: bool) -> None:
    if not first:
        delete_state(state_path)


def run_abort(args: argparse.Namespace) -> int:
    path = Path(args.state)
    if not os.path.lexists(path):
        raise CliError(ExitCode.LOCAL, f"no state file {path}")
    if path.is_symlink():
        raise CliError(ExitCode.LOCAL, f"{path} is a symbolic link; give the state file's own path")
    try:  # only a psi state file is wiped (not a key given by mistake), even one others could read
        StepState.from_bytes(read_capped(path, DEFAULT_MAX_MESSAGE, what="state file"), str(path))
    except (MalformedFile, FileAccessError) as exc:
        raise CliError(ExitCode.LOCAL, str(exc)) from None
    if delete_state(path):
        Messages(args.quiet).out(f"wiped and deleted {path}")
        return ExitCode.OK
    raise CliError(ExitCode.LOCAL, f"could not delete {path}")  # pragma: no cover - it existed just now
