"""Rounds: the pairwise sessions of n labs over TCP, resumable, merged into one local report
(issue 16 item 1, with the forum-policy checks of item 6; docs/groups-rounds.md).

Pair rule: of two labs, the one earlier in the group file's order serves (responder) and the later one
connects (initiator). A lab runs all its pairs at once: one listening :class:`~blindmatch.transport.Server`
for the later labs, one connection (retried with backoff until the round's deadline) per earlier lab.
Every pair is an ordinary mutual session, authenticated against the group file's key for that name, with
its own signed disclosure records. The sans-I/O session parties do the protocol; this module does I/O.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BlindmatchError, CapacityError, InvalidParameter, LocalError, RemoteError
from ..indicator_set import IndicatorSet
from ..psi import IndicatorItems
from ..session import Identity, InitiatorSession, PeerStore, Policy, ResponderSession, SessionParty
from ..session.manifest import Manifest
from ..transport import PeerTimeout, PeerUnreachable, Server, SessionOutcome, abort_party, connect_and_run
from ._pair_store import DonePair, items_digest, load_done, pair_dir, write_done, write_failed
from .forum_policy import ForumPolicy, NotAMember, RunOutsidePolicy
from .group_file import Group, GroupLab, GroupPolicyMismatch
from .round_report import LabRow, RoundReport, build_round_report

__all__ = [
    "NotInGroup",
    "PairFailed",
    "PairOutcome",
    "RoundResult",
    "check_round",
    "run_round",
    "run_round_async",
]

#: The name of the merged report in the state folder (unless the caller names another path).
REPORT_NAME = "round-report.json"
Clock = Callable[[], float]


class NotInGroup(LocalError, ValueError):
    """Our identity is not one of the round's labs (or not the one named)."""


class PairFailed(RemoteError):
    """One pair of the round did not complete: the peer (``peer``) was unreachable, never connected,
    disconnected or stalled mid-session, refused, or misbehaved. Only that pair fails; nothing of it is
    counted. ``cause`` is the underlying error."""

    def __init__(self, peer: str, cause: BaseException) -> None:
        super().__init__(f"pair with {peer} failed: {type(cause).__name__}: {cause}")
        self.peer = peer
        self.cause = cause


@dataclass(frozen=True)
class PairOutcome:
    """How one of my pairs ended: ``done`` (``resumed``: taken from a previous run's verified files) or
    ``failed`` (``error``)."""

    peer: str
    role: str  # "responder" (we serve) or "initiator" (we connect)
    status: str
    matched: frozenset[tuple[str, str]] = frozenset()
    transcript_hash: str | None = None
    record: Path | None = None
    error: BlindmatchError | None = None
    resumed: bool = False


@dataclass(frozen=True)
class RoundResult:
    """What :func:`run_round` did: the merged report (and where it is) and every pair's outcome."""

    report: RoundReport
    report_path: Path
    pairs: tuple[PairOutcome, ...]

    @property
    def failed(self) -> tuple[PairOutcome, ...]:
        return tuple(p for p in self.pairs if p.status == "failed")


def check_round(group: Group, policy: ForumPolicy, identity: Identity, now: float) -> GroupLab:
    """Every check before anything leaves the lab: the policy and the group file are valid at ``now``, the
    group belongs to this policy, every lab's key (ours included) is a member's key under the lab's member
    name and not revoked, the terms and threshold are inside the policy. Returns our lab."""
    policy.check_valid_at(now)
    group.check_valid_at(now)
    if group.forum_policy != policy.digest:
        raise GroupPolicyMismatch(f"round {group.round} belongs to another forum policy")
    for lab in group.labs:
        name = policy.check_member(lab.public_key, now)
        if name != lab.name:
            raise NotAMember(
                f"the key of lab {lab.name} in round {group.round} is member {name}'s key in forum "
                f"{policy.forum}",
                revoked=False,
            )
    policy.check_run(group.kinds, group.max_items, group.padding, group.threshold)
    if group.canon_version != policy.canon_version:
        raise RunOutsidePolicy("canon_version", f"{group.canon_version} is not the policy's "
                               f"{policy.canon_version}")  # fmt: skip
    me = group.lab_of_key(identity.public)
    if me is None:
        raise NotInGroup(f"our key {identity.fingerprint} is not a lab of round {group.round}")
    return me


def round_items(iset: IndicatorSet, group: Group) -> IndicatorItems:
    """Our items of the round's kinds (other kinds take no part); within the round's cap."""
    if iset.canon_version != group.canon_version:
        raise InvalidParameter(
            f"our indicators are canon version {iset.canon_version}, the round's {group.canon_version}"
        )
    items = iset.psi_items().indicators.select(group.kinds)
    if not len(items):
        raise InvalidParameter(f"none of our indicators is of the round's kinds ({', '.join(group.kinds)})")
    if len(items) > group.max_items:
        raise CapacityError(f"our {len(items)} items exceed the round's cap of {group.max_items}")
    return items


@dataclass(frozen=True)
class _RoundPolicy(Policy):
    """The responder policy of a round: the group's terms (see :func:`_round_policy`), and the round's
    purpose in the manifest, so a session of another round or group file is refused before anything of
    ours is sent."""

    purpose: str = ""

    def refusal(self, manifest: Manifest, peer_name: str) -> str | None:
        if manifest.purpose != self.purpose:
            return "the session is not one of this round (its purpose names another round or group file)"
        return super().refusal(manifest, peer_name)


def _round_policy(group: Group) -> _RoundPolicy:
    return _RoundPolicy(
        modes=frozenset({group.mode}), kinds=frozenset(group.kinds), paddings=(group.padding,),
        max_items_initiator=group.max_items, max_items_responder=group.max_items,
        canon_version=group.canon_version, psi_suites=frozenset({group.psi_suite}),
        purpose=group.session_purpose,
    )  # fmt: skip


@dataclass
class _Settings:
    timeout: float
    read_timeout: float
    workers: int
    listen: tuple[str, int] | None
    log: Callable[[str], None]


class _Round:
    """One lab's run of a round: its pairs still to run, and their outcomes as they end."""

    def __init__(
        self, group: Group, identity: Identity, me: GroupLab, iset: IndicatorSet, items: IndicatorItems,
        state_dir: Path, clock: Clock, settings: _Settings,
    ) -> None:  # fmt: skip
        self.group, self.identity, self.me, self.iset, self.items = group, identity, me, iset, items
        self.state_dir, self.clock, self.settings = state_dir, clock, settings
        self.digest = items_digest(items)
        self.outcomes: dict[str, PairOutcome] = {}
        self.waiting = PeerStore()  # later labs whose session we still wait for
        self.started: dict[str, float] = {}
        self.server: Server | None = None
        self.seen: set[bytes] = set()
        self.policy = _round_policy(group)

    # -- outcomes ------------------------------------------------------------------------------------------

    def finish(self, peer: GroupLab, role: str, party: InitiatorSession | ResponderSession | None,
               error: BaseException | None) -> None:  # fmt: skip
        folder = pair_dir(self.state_dir, peer.name)
        started = self.started.get(peer.name, self.clock())
        try:
            if error is None and party is not None and party.result is not None:
                kept = write_done(folder, self.group, peer, party, self.iset, self.digest, started)
                self.outcomes[peer.name] = PairOutcome(peer.name, role, "done", kept.matched,
                                                       kept.transcript_hash, kept.record)  # fmt: skip
                self.settings.log(f"pair with {peer.name}: done, {len(kept.matched)} of ours held")
                return
            if error is None and party is not None:
                reason = getattr(party, "refusal_reason", None) or "the session ended without a result"
                error = RemoteError(reason)
            record = write_failed(folder, party) if party is not None else None
        except BlindmatchError as exc:  # our files could not be written: the pair counts as failed
            error, record = exc, None
        failure = PairFailed(peer.name, error or RemoteError("unknown"))
        self.outcomes[peer.name] = PairOutcome(peer.name, role, "failed", record=record, error=failure)
        self.settings.log(str(failure))

    # -- serving the later labs ----------------------------------------------------------------------------

    def factory(self, _addr: str) -> SessionParty:
        return ResponderSession(self.identity, self.waiting, self.policy, indicators=self.items,
                                seen_session_ids=self.seen, clock=self.clock,
                                workers=self.settings.workers)  # fmt: skip

    def on_outcome(self, o: SessionOutcome) -> None:
        party = o.party
        if not isinstance(party, ResponderSession) or party.peer_name is None:
            return
        name = party.peer_name
        if name not in self.waiting:  # pragma: no cover - one session per peer (the store forgets it)
            return
        self.waiting.remove(name)
        self.started[name] = o.started
        self.finish(self.group.lab(name), "responder", party, o.error)
        if not len(self.waiting) and self.server is not None:
            self.server.stop("every pair of ours has ended")

    async def listen(self, later: list[GroupLab]) -> Server:
        """Listen for the later labs (before any connection of ours: a busy port stops the round here)."""
        for lab in later:
            self.waiting.add(lab.name, lab.public_key)
        host, port = self.settings.listen or (self.me.host, self.me.port)
        t = self.settings
        self.server = server = Server(
            self.factory, host=host, port=port, timeout=t.read_timeout, on_outcome=self.on_outcome,
            on_unauthenticated=t.log, log_interval=5.0, max_sessions_per_peer=1, max_concurrent=len(later),
            peer_key=lambda party, addr: getattr(party, "peer_name", None) or addr,
        )  # fmt: skip
        await server.start()
        return server

    async def serve(self, server: Server, deadline: float) -> None:
        t = self.settings
        loop = asyncio.get_running_loop()
        timer = loop.call_at(deadline, server.stop, "the round's deadline passed")
        try:
            await server.serve()
        finally:
            timer.cancel()
        for peer in list(self.waiting):
            self.waiting.remove(peer.name)
            never = PeerTimeout(f"no session from {peer.name} within the round's {t.timeout:g} s (it never "
                                "connected, or its session did not start)")  # fmt: skip
            self.finish(self.group.lab(peer.name), "responder", None, never)

    # -- connecting to the earlier labs --------------------------------------------------------------------

    def initiator(self, peer: GroupLab) -> InitiatorSession:
        g = self.group
        return InitiatorSession(
            self.identity, peer.public_key, indicators=self.items, mode=g.mode, kinds=g.kinds,
            max_items=(g.max_items, g.max_items), padding=g.padding, purpose=g.session_purpose,
            validity_s=max(600, int(self.settings.timeout) + 300), peer_name=peer.name, clock=self.clock,
            workers=self.settings.workers, canon_version=g.canon_version, psi_suite=g.psi_suite,
        )  # fmt: skip

    async def connect(self, peer: GroupLab, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        party = self.initiator(peer)
        self.started[peer.name] = self.clock()
        delay = 0.1
        error: BlindmatchError | None = None
        while True:
            left = deadline - loop.time()
            try:
                await asyncio.wait_for(self._run(party, peer, left), max(left, 0.001))
                break
            except PeerUnreachable as exc:  # not up yet: nothing was sent, try again until the deadline
                if deadline - loop.time() <= delay:
                    error = exc
                    break
                await asyncio.sleep(delay)
                delay = min(delay * 1.6, 2.0)
            except asyncio.TimeoutError:
                error = PeerTimeout(f"the session with {peer.name} did not end within the round's deadline")
                with contextlib.suppress(BlindmatchError):
                    abort_party(party, str(error))
                break
            except BlindmatchError as exc:
                error = exc
                break
        self.finish(peer, "initiator", party, error)

    async def _run(self, party: InitiatorSession, peer: GroupLab, left: float) -> None:
        t = self.settings
        await connect_and_run(party, peer.host, peer.port, timeout=t.read_timeout,
                              connect_timeout=max(min(5.0, left), 0.001))  # fmt: skip


def _resume(r: _Round, redo: frozenset[str]) -> list[GroupLab]:
    """Pairs completed in an earlier run (verified) are taken as they are; returns the peers to run."""
    todo = []
    for lab in r.group.labs:
        if lab == r.me:
            continue
        role = "responder" if r.group.index(lab.name) > r.group.index(r.me.name) else "initiator"
        kept, why = (None, "asked to run it again") if lab.name in redo else load_done(
            pair_dir(r.state_dir, lab.name), r.group, r.identity.public, lab, r.digest)  # fmt: skip
        if kept is not None:
            r.outcomes[lab.name] = _resumed(lab.name, role, kept)
            r.settings.log(f"pair with {lab.name}: completed in an earlier run, not run again")
        else:
            r.settings.log(f"pair with {lab.name}: to run ({why})")
            todo.append(lab)
    return todo


def _resumed(name: str, role: str, kept: DonePair) -> PairOutcome:
    return PairOutcome(name, role, "done", kept.matched, kept.transcript_hash, kept.record, resumed=True)


async def run_round_async(
    group: Group,
    policy: ForumPolicy,
    identity: Identity,
    iset: IndicatorSet,
    state_dir: str | Path,
    *,
    clock: Clock = time.time,
    timeout: float = 600.0,
    read_timeout: float = 60.0,
    redo: Iterable[str] = (),
    report_path: str | Path | None = None,
    listen: str | None = None,
    workers: int = 1,
    log: Callable[[str], None] | None = None,
) -> RoundResult:
    """Run our pairs of ``group`` (see :func:`run_round`) in the running event loop."""
    me = check_round(group, policy, identity, clock())
    items = round_items(iset, group)
    redo_set = frozenset(redo)
    unknown = sorted(redo_set - {lab.name for lab in group.labs})
    if unknown:
        raise InvalidParameter(f"redo names labs not in round {group.round}: {', '.join(unknown)}")
    if not timeout > 0 or not read_timeout > 0:
        raise InvalidParameter("timeout and read_timeout must be positive")
    listen_at = _listen(listen)
    settings = _Settings(float(timeout), float(read_timeout), workers, listen_at, log or (lambda _s: None))
    state = Path(state_dir)
    state.mkdir(parents=True, exist_ok=True, mode=0o700)
    r = _Round(group, identity, me, iset, items, state, clock, settings)
    todo = _resume(r, redo_set)
    mine = group.index(me.name)
    later = [lab for lab in todo if group.index(lab.name) > mine]
    earlier = [lab for lab in todo if group.index(lab.name) < mine]
    deadline = asyncio.get_running_loop().time() + timeout
    jobs: list[Any] = [r.serve(await r.listen(later), deadline)] if later else []
    jobs += [r.connect(lab, deadline) for lab in earlier]
    await asyncio.gather(*jobs)
    return _merge(r, Path(report_path) if report_path is not None else state / REPORT_NAME)


def _listen(text: str | None) -> tuple[str, int] | None:
    if text is None:
        return None
    from .group_file import _parse_endpoint

    return _parse_endpoint(text)


def _merge(r: _Round, path: Path) -> RoundResult:
    pairs = tuple(r.outcomes[lab.name] for lab in r.group.labs if lab.name in r.outcomes)
    base = path.parent
    rows = []
    for p in pairs:
        rel = None
        if p.record is not None:
            with contextlib.suppress(ValueError):
                rel = p.record.resolve().relative_to(base.resolve()).as_posix()
            rel = rel or str(p.record.resolve())
        err = str(p.error) if p.error is not None else None
        rows.append(LabRow(p.peer, p.status, err, len(p.matched), p.transcript_hash, rel))
    report = build_round_report(
        round_name=r.group.round, order=[lab.name for lab in r.group.labs], me=r.me.name,
        threshold=r.group.threshold, iset=r.iset, own=r.items.items_by_kind(),
        held={p.peer: p.matched for p in pairs if p.status == "done"}, labs=rows, generated=r.clock(),
    )  # fmt: skip
    return RoundResult(report, report.write(path), pairs)


def run_round(
    group: Group,
    policy: ForumPolicy,
    identity: Identity,
    iset: IndicatorSet,
    state_dir: str | Path,
    **options: Any,
) -> RoundResult:
    """Run our pairs of round ``group`` under the forum ``policy`` and write the merged report.

    Before anything is sent, :func:`check_round` checks the policy and the group file (every lab's key a
    member's, the terms inside the policy); our items of the round's kinds must fit the round's cap. Pairs
    completed in an earlier run with the same group file and inputs are taken from ``state_dir`` (their
    files verified: see docs/groups-rounds.md) unless named in ``redo``; the others run at once, until
    ``timeout`` seconds (the round's deadline; ``read_timeout``: the longest wait for one message). A pair
    that fails (the peer unreachable, never connecting, dropping out mid-session, refusing, presenting
    another key than the group file's) fails alone, as a :class:`PairFailed` in its :class:`PairOutcome`;
    nothing of it is counted in the report. ``clock`` gives Unix time (the policy checks, the sessions,
    the report); ``listen`` (``"host:port"``) overrides where we listen (default: our group endpoint);
    ``report_path`` where the merged report goes (default: ``state_dir/round-report.json``); ``log``
    receives one line per event. Options as for :func:`run_round_async`.
    """
    return asyncio.run(run_round_async(group, policy, identity, iset, state_dir, **options))
