"""The state of a file-based exchange between its steps (``blindmatch psi ...``).

A step restores the session party from its saved state (``save_state``/``restore_state``): the state file
keeps the party's own saved state (its seed, the messages it consumed, and the PSI party's saved state,
so a step redoes no earlier step's PSI work), how the inputs are read (an :class:`~blindmatch.InputSpec`:
absolute paths and options, no indicator value) with a keyed hash of what they gave, the proposal's peer
(initiator) or the trust store and policy (responder), and where the outputs go. A step reads the inputs
again and refuses them if their hash differs. The state file is as secret as the scalars its seed makes:
mode 0600, replaced atomically before each step's message is written, wiped and deleted when the exchange
ends or fails. Re-running a step with the very message it consumed writes the same answer again; any
other message for that step is refused by the session (a second answer under the same secret scalar
would give the peer an oracle).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._derive import derive_key, seed_once
from .._progress import ProgressCallback
from ..errors import InvalidParameter, MalformedFile
from ..executors import Executor
from ..indicator_set import IndicatorSet, InputSpec, PsiItems
from ..session import InitiatorSession, PeerStore, Policy, PublicIdentity, ResponderSession
from ..transport import StateFileError, read_state, write_state
from ._session_io import load_identity, read_inputs
from .exitcodes import CliError, ExitCode

__all__ = ["StepState", "new_party", "new_seed", "policy_to_dict", "restore_party"]

STATE_FORMAT = "blindmatch-psi-state"
# 3: the session party's saved state instead of the messages to replay; 4: session protocol 2 (the
# responder's padding rules, in order of preference); 5: the responder policy's auditor (--audit-to)
STATE_VERSION = 5
_INPUTS_LABEL = b"blindmatch/cli/v1 inputs hmac"
_PARTY_LABEL = b"blindmatch/cli/v1 party seed"


def inputs_key(seed: bytes) -> bytes:
    """The key of the inputs' hash in a state file: from the state's seed, under its own label (an unkeyed
    hash would confirm a guessed set to anyone given only the hash; the holder of the state file has the
    seed too, so it binds the state to its inputs and hides nothing from that holder)."""
    return derive_key(seed, _INPUTS_LABEL)


def _party_rng(seed: bytes) -> Callable[[int], bytes]:
    """The ``rng`` of a new session party: its one draw is the party seed derived from ours."""
    return seed_once(derive_key(seed, _PARTY_LABEL))


@dataclass
class StepState:
    role: str
    seed: bytes = field(repr=False)  # derives every scalar and ephemeral key: never in a repr
    identity: str
    inputs: InputSpec = field(repr=False)  # how our indicators are read (paths, options; no value)
    inputs_digest: str = field(default="", repr=False)  # HMAC (hex) of what the inputs gave
    workers: int = 1
    peer_name: str | None = None
    peer_key: str | None = None  # initiator: the responder's public key
    peers_json: str | None = None  # responder: the trust store when the exchange began
    policy: dict[str, Any] | None = None  # responder
    party: bytes = field(default=b"", repr=False)  # the session party's saved state (holds its seed)
    next_seq: int = 0  # the number of the next message this side takes (the hello is message 0)
    last_in: str = ""  # SHA-256 (hex) of the message the last step took
    out_dir: str = "."
    prefix: str = ""
    started: float = 0.0
    near_duplicates: str | None = None  # the fingerprint profile of --near-duplicates
    executor: Executor | None = field(default=None, repr=False, compare=False)  # per step, never saved
    _indicators: IndicatorSet | None = field(default=None, repr=False, compare=False)

    def adopt(self, iset: IndicatorSet) -> None:
        """Take the set just read from :attr:`inputs` (first step) and keep its keyed hash."""
        self._indicators = iset
        self.inputs_digest = iset.digest(inputs_key(self.seed)).hex()

    def indicators(self) -> IndicatorSet:
        """Our indicators, read again from :attr:`inputs` and refused when they differ from the first read."""
        if self._indicators is None:
            iset = read_inputs(self.inputs, quiet=True)
            if not hmac.compare_digest(iset.digest(inputs_key(self.seed)).hex(), self.inputs_digest):
                raise CliError(
                    ExitCode.LOCAL,
                    "the input files differ from those this exchange began with ("
                    + ", ".join(self.inputs.paths)
                    + "): restore them, or give the exchange up with `blindmatch psi abort`",
                )
            self._indicators = iset
        return self._indicators

    @property
    def items(self) -> PsiItems:
        """The session's items (prompts as band items with --near-duplicates)."""
        return self.indicators().psi_items(self.near_duplicates)

    def consumed(self, message: bytes) -> bool:
        """Whether ``message`` is the one the last step took (a re-run of that step)."""
        return bool(self.last_in) and hmac.compare_digest(hashlib.sha256(message).hexdigest(), self.last_in)

    def advance(self, party: bytes, consumed: bytes, next_seq: int) -> None:
        """After a step: the party's new saved state, the message it took, the next message's number."""
        self.party, self.next_seq = party, next_seq
        self.last_in = hashlib.sha256(consumed).hexdigest()

    def to_bytes(self) -> bytes:
        doc = {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "warning": "SECRET: holds the seed of this exchange's secret scalars; never copy or share it",
            "role": self.role,
            "seed": self.seed.hex(),
            "identity": self.identity,
            "workers": self.workers,
            "peer_name": self.peer_name,
            "peer_key": self.peer_key,
            "peers_json": self.peers_json,
            "policy": self.policy,
            "party": base64.b64encode(self.party).decode("ascii"),
            "next_seq": self.next_seq,
            "last_in": self.last_in,
            "out_dir": self.out_dir,
            "prefix": self.prefix,
            "started": self.started,
            "near_duplicates": self.near_duplicates,
            "inputs": self.inputs.to_dict(),
            "inputs_digest": self.inputs_digest,
        }
        return json.dumps(doc).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes, source: str) -> StepState:
        try:
            doc = json.loads(data)
            if doc.get("format") != STATE_FORMAT or doc.get("version") != STATE_VERSION:
                raise ValueError("not a blindmatch psi state file")
            if doc["policy"] is not None:
                policy_from_dict(doc["policy"])  # a tampered policy is an unreadable state, not a crash
            return cls(
                role=str(doc["role"]),
                seed=bytes.fromhex(doc["seed"]),
                identity=str(doc["identity"]),
                inputs=InputSpec.from_dict(doc["inputs"]),
                inputs_digest=str(doc["inputs_digest"]),
                workers=int(doc["workers"]),
                peer_name=doc["peer_name"],
                peer_key=doc["peer_key"],
                peers_json=doc["peers_json"],
                policy=doc["policy"],
                party=base64.b64decode(doc["party"], validate=True),
                next_seq=int(doc["next_seq"]),
                last_in=str(doc["last_in"]),
                out_dir=str(doc["out_dir"]),
                prefix=str(doc["prefix"]),
                started=float(doc["started"]),
                near_duplicates=doc.get("near_duplicates"),
            )
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError, InvalidParameter) as exc:
            raise CliError(ExitCode.LOCAL, f"{source}: unreadable state file ({exc})") from None

    def save(self, path: str | Path, *, overwrite: bool) -> None:
        write_state(path, self.to_bytes(), overwrite=overwrite)

    @classmethod
    def load(cls, path: str | Path) -> StepState:
        try:
            data = read_state(path)
        except (MalformedFile, StateFileError) as exc:
            raise CliError(ExitCode.LOCAL, str(exc)) from None
        return cls.from_bytes(data, str(path))


def new_seed() -> bytes:
    return os.urandom(32)


def policy_to_dict(p: Policy) -> dict[str, Any]:
    return {
        "allowed_peers": sorted(p.allowed_peers) if p.allowed_peers is not None else None,
        "modes": sorted(p.modes),
        "kinds": sorted(p.kinds) if p.kinds is not None else None,
        "paddings": list(p.paddings),  # in order of preference
        "max_items_initiator": p.max_items_initiator,
        "max_items_responder": p.max_items_responder,
        "max_validity_s": p.max_validity_s,
        "clock_skew_s": p.clock_skew_s,
        "prompt_profile": p.prompt_profile,
        "auditor": p.auditor.hex() if p.auditor is not None else None,
        "min_audit_rate_ppm": p.min_audit_rate_ppm,
        "canon_version": p.canon_version,
    }


def policy_from_dict(d: dict[str, Any]) -> Policy:
    return Policy(
        allowed_peers=frozenset(d["allowed_peers"]) if d["allowed_peers"] is not None else None,
        modes=frozenset(d["modes"]),
        kinds=frozenset(d["kinds"]) if d["kinds"] is not None else None,
        paddings=tuple(d["paddings"]),
        max_items_initiator=int(d["max_items_initiator"]),
        max_items_responder=int(d["max_items_responder"]),
        max_validity_s=int(d["max_validity_s"]),
        clock_skew_s=int(d["clock_skew_s"]),
        prompt_profile=d.get("prompt_profile"),
        auditor=bytes.fromhex(d["auditor"]) if d["auditor"] is not None else None,
        min_audit_rate_ppm=int(d["min_audit_rate_ppm"]),
        canon_version=int(d["canon_version"]),
    )


def _arguments(state: StepState) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The constructor arguments of the state's party (the same at every step; the initiator's manifest
    comes from the party's saved state once there is one)."""
    identity = load_identity(state.identity)
    kwargs: dict[str, Any] = (
        {"workers": state.workers} if state.executor is None else {"executor": state.executor}
    )
    if state.role == "initiator":
        if state.peer_key is None:
            raise CliError(ExitCode.LOCAL, "unreadable state file (an initiator without its peer)")
        items = state.items
        kwargs.update(indicators=items.indicators, peer_name=state.peer_name)
        return (identity, PublicIdentity.from_text(state.peer_key)), kwargs
    if state.peers_json is None or state.policy is None:
        raise CliError(ExitCode.LOCAL, "unreadable state file (a responder without peers and policy)")
    kwargs["indicators"] = state.items.indicators  # the party takes the kinds the proposal names
    return (identity, PeerStore.from_json(state.peers_json), policy_from_dict(state.policy)), kwargs


def new_party(
    state: StepState, progress: ProgressCallback | None = None, **extra: Any
) -> InitiatorSession | ResponderSession:
    """The party of the first step, whose seed derives from the state's (``extra``: the initiator's
    proposal arguments)."""
    args, kwargs = _arguments(state)
    kwargs.update(extra, rng=_party_rng(state.seed), progress=progress)
    if state.role == "initiator":
        return InitiatorSession(*args, **kwargs)
    return ResponderSession(*args, **kwargs)


def restore_party(
    state: StepState, progress: ProgressCallback | None = None
) -> InitiatorSession | ResponderSession:
    """The party as the last step saved it: earlier PSI work is restored, not redone."""
    args, kwargs = _arguments(state)
    kwargs["progress"] = progress
    cls: type[InitiatorSession] | type[ResponderSession]
    cls = InitiatorSession if state.role == "initiator" else ResponderSession
    try:
        return cls.restore_state(state.party, *args, **kwargs)
    except (InvalidParameter, MalformedFile) as exc:
        raise CliError(
            ExitCode.LOCAL, f"cannot resume the exchange: {exc} (the identity key or the state file changed)"
        ) from None
