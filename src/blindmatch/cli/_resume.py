"""Resuming a session party between the steps of a file-based exchange.

Session parties live in memory and hold keys that cannot be written out as such. Between two steps the
state file keeps instead: a 32-byte secret seed for the party's random generator, how the inputs were
read (an :class:`~blindmatch.InputSpec`: absolute paths and options, no indicator value) with a keyed
hash of what they gave, the proposal (initiator) or policy (responder), the messages received so far,
and a hash of every message sent. A step reads the inputs again (refusing them if their hash differs),
rebuilds the party from the same seed and replays the received messages: the party draws the same secret
scalars and ephemeral keys and produces byte-identical messages (checked against the hashes) before it
takes the new message. So the state file is as secret as the scalars themselves: mode 0600, wiped and
deleted when the exchange ends or fails.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .._progress import ProgressCallback
from ..errors import InvalidParameter, LocalError, MalformedFile
from ..indicator_set import IndicatorSet, InputSpec, PsiItems
from ..session import InitiatorSession, Manifest, PeerStore, Policy, PublicIdentity, ResponderSession
from ..transport import read_state, write_state
from ._session_io import load_identity, read_inputs
from .exitcodes import CliError, ExitCode

__all__ = ["SeededRng", "StepState", "rebuild"]

STATE_FORMAT = "blindmatch-psi-state"
STATE_VERSION = 2  # 2: the inputs as a specification and a keyed hash, no longer their values
_INPUTS_LABEL = b"blindmatch/psi-state/inputs-hmac/v1"


def inputs_key(seed: bytes) -> bytes:
    """The key of the inputs' hash in a state file: from the state's seed, under its own HKDF label (an
    unkeyed hash would let anyone holding the state file confirm a guessed set)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INPUTS_LABEL).derive(seed)


class SeededRng:
    """A deterministic random generator: the ChaCha20 keystream under a secret 32-byte seed."""

    def __init__(self, seed: bytes) -> None:
        if len(seed) != 32:
            raise ValueError("seed must be 32 bytes")
        self._enc = Cipher(algorithms.ChaCha20(seed, b"\0" * 16), mode=None).encryptor()

    def __call__(self, n: int) -> bytes:
        return self._enc.update(b"\0" * n)


class ResumeError(LocalError):
    """The state file cannot be resumed (wrong inputs, changed identity, or a bug)."""


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
    manifest: dict[str, Any] | None = None  # initiator
    peers_json: str | None = None  # responder: the trust store when the exchange began
    policy: dict[str, Any] | None = None  # responder
    received: list[bytes] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)  # SHA-256 (hex) of each message sent
    out_dir: str = "."
    prefix: str = ""
    started: float = 0.0
    near_duplicates: str | None = None  # the fingerprint profile of --near-duplicates
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

    @property
    def next_seq(self) -> int:
        return len(self.received) + len(self.sent)

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
            "manifest": self.manifest,
            "peers_json": self.peers_json,
            "policy": self.policy,
            "received": [m.hex() for m in self.received],
            "sent": self.sent,
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
            return cls(
                role=str(doc["role"]),
                seed=bytes.fromhex(doc["seed"]),
                identity=str(doc["identity"]),
                inputs=InputSpec.from_dict(doc["inputs"]),
                inputs_digest=str(doc["inputs_digest"]),
                workers=int(doc["workers"]),
                peer_name=doc["peer_name"],
                peer_key=doc["peer_key"],
                manifest=doc["manifest"],
                peers_json=doc["peers_json"],
                policy=doc["policy"],
                received=[bytes.fromhex(m) for m in doc["received"]],
                sent=[str(h) for h in doc["sent"]],
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
        except MalformedFile as exc:
            raise CliError(ExitCode.LOCAL, str(exc)) from None
        return cls.from_bytes(data, str(path))


def new_seed() -> bytes:
    return os.urandom(32)


def digest(msg: bytes) -> str:
    return hashlib.sha256(msg).hexdigest()


def policy_to_dict(p: Policy) -> dict[str, Any]:
    return {
        "allowed_peers": sorted(p.allowed_peers) if p.allowed_peers is not None else None,
        "modes": sorted(p.modes),
        "kinds": sorted(p.kinds) if p.kinds is not None else None,
        "paddings": sorted(p.paddings),
        "max_items_initiator": p.max_items_initiator,
        "max_items_responder": p.max_items_responder,
        "max_validity_s": p.max_validity_s,
        "clock_skew_s": p.clock_skew_s,
        "prompt_profile": p.prompt_profile,
    }


def policy_from_dict(d: dict[str, Any]) -> Policy:
    return Policy(
        allowed_peers=frozenset(d["allowed_peers"]) if d["allowed_peers"] is not None else None,
        modes=frozenset(d["modes"]),
        kinds=frozenset(d["kinds"]) if d["kinds"] is not None else None,
        paddings=frozenset(d["paddings"]),
        max_items_initiator=int(d["max_items_initiator"]),
        max_items_responder=int(d["max_items_responder"]),
        max_validity_s=int(d["max_validity_s"]),
        clock_skew_s=int(d["clock_skew_s"]),
        prompt_profile=d.get("prompt_profile"),
    )


def rebuild(
    state: StepState, progress: ProgressCallback | None = None
) -> InitiatorSession | ResponderSession:
    """A fresh party in the state the exchange had reached (every earlier message replayed).

    ``progress`` receives the PSI stages, those of the replay included.
    """
    identity = load_identity(state.identity)
    rng = SeededRng(state.seed)
    party: InitiatorSession | ResponderSession
    sent_iter = iter(state.sent)

    def check(out: bytes | None) -> None:
        if out is None:
            return
        want = next(sent_iter, None)
        if want is None or want != digest(out):
            raise ResumeError(
                "resuming the exchange gave another message than the one sent before "
                "(the identity key or the state file changed)"
            )

    if state.role == "initiator":
        if state.manifest is None or state.peer_key is None:
            raise ResumeError("initiator state without a manifest")
        party = InitiatorSession(
            identity,
            PublicIdentity.from_text(state.peer_key),
            items=state.items.items,
            kinds=state.items.kinds,
            manifest=Manifest.from_dict(state.manifest),
            peer_name=state.peer_name,
            rng=rng,
            workers=state.workers,
            progress=progress,
        )
        check(party.start())
    else:
        if state.peers_json is None or state.policy is None:
            raise ResumeError("responder state without peers and policy")
        party = ResponderSession(
            identity,
            PeerStore.from_json(state.peers_json),
            policy_from_dict(state.policy),
            # only the kinds the proposal names take part: per kind (the result maps back through the set)
            items_by_kind=state.indicators().items_by_kind(state.near_duplicates),
            rng=rng,
            workers=state.workers,
            progress=progress,
        )
    for msg in state.received:
        check(party.receive(msg))
    return party
