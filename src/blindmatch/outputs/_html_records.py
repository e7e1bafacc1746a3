"""Disclosure records in plain words, with their verification status.

A record shown here may be altered or forged, so nothing in it is trusted: every member is read with a
type check (a member of the wrong type shows as "unknown"), every string is escaped, and the signature is
checked with :func:`~blindmatch.session.verify_record` when the signer's public key was given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import BlindmatchError
from ..session.identity import PublicIdentity
from ..session.record import verify_record
from ._html_base import attr, num, text

__all__ = ["MissingRecord", "RecordCheck", "check_record", "record_block"]

CheckStatus = Literal["verified", "signature invalid", "not checked"]
_CSS: dict[str, str] = {"verified": "verified", "signature invalid": "invalid", "not checked": "unchecked"}


@dataclass(frozen=True)
class MissingRecord:
    """Stands for a record that could not be read (``reason`` says why); shown instead of one."""

    reason: str


@dataclass(frozen=True)
class RecordCheck:
    """What checking a record's signature found: ``status`` and a line saying why (``detail``).

    ``same_session`` is ``False`` when the record's transcript hash differs from the report's (a record of
    another session), ``None`` when there was nothing to compare.
    """

    status: CheckStatus
    detail: str
    same_session: bool | None = None


def _get(doc: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(doc, Mapping):
            return None
        doc = doc.get(key)
    return doc


def _int(doc: Any, *path: str) -> int | None:
    v = _get(doc, *path)
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _str(doc: Any, *path: str) -> str | None:
    v = _get(doc, *path)
    return v if isinstance(v, str) else None


def check_record(
    record: Mapping[str, Any], keys: Iterable[PublicIdentity] = (), *, transcript_hash: str | None = None
) -> RecordCheck:
    """Verify ``record``'s signature when its signer is one of ``keys``; else say it was not checked.

    ``transcript_hash`` (hex), when given, is compared with the record's: a record of another session
    is marked ``same_session=False`` whatever its signature.
    """
    th = _str(record, "transcript_hash")
    same = None if transcript_hash is None else (th is not None and th.lower() == transcript_hash.lower())
    signer = _str(record, "signature", "public_key")
    if signer is None:
        return RecordCheck("signature invalid", "the record carries no signature", same)
    key = next((k for k in keys if k.to_text() == signer), None)
    if key is None:
        return RecordCheck("not checked", "the signer's public key was not given", same)
    try:
        verify_record(record, key)
    except (BlindmatchError, TypeError, ValueError, RecursionError) as exc:
        return RecordCheck("signature invalid", str(exc), same)
    return RecordCheck("verified", f"signed by the key with fingerprint {key.fingerprint}", same)


def _cap(s: str) -> str:
    """A sentence's start: "you" capitalised, a lab's name left as it is written."""
    return "You" + s[3:] if s.startswith("you") else s


def _whose(who: str) -> str:
    return "your" if who == "you" else f"{who}'s"


def _learned_line(record: Mapping[str, Any], role: str, names: Mapping[str, str]) -> str:
    who, other = names[role], names["responder" if role == "initiator" else "initiator"]
    learns = _str(record, "learned", role, "learns")
    count = _int(record, "learned", role, "count")
    padded = _int(record, "padded_sizes", role)
    counted = f": {num(count)} shared" if count is not None else ""
    if learns == "intersection":
        its = "your" if who == "you" else "its"
        own = f"{its} {num(padded)} (padded)" if padded is not None else its
        return f"{_cap(who)} learned which of {own} items are also in {_whose(other)} set{counted}."
    if learns == "count":
        return f"{_cap(who)} learned only how many items the two sets share{counted}."
    if learns == "nothing":
        return f"{_cap(who)} learned nothing about the overlap."
    return f"What {who} learned is not in the record (the session ended before a manifest was agreed)."


def _sizes_line(record: Mapping[str, Any], names: Mapping[str, str]) -> str:
    parts = []
    for role in ("initiator", "responder"):
        size = _int(record, "padded_sizes", role)
        rule = _str(record, "padding", role) or (_str(record, "padding") if role == "initiator" else None)
        shown = "no size" if size is None else f"a set of {num(size)} item{'' if size == 1 else 's'}"
        ruled = f" (padding rule {rule})" if rule is not None else ""
        parts.append(f"{names[role]} showed {shown}{ruled}")
    return _cap("; ".join(parts)) + ". These padded sizes are the only sizes either side learned."


def _outcome_line(record: Mapping[str, Any]) -> str:
    status = _str(record, "outcome", "status")
    reason = _str(record, "outcome", "reason")
    error = _str(record, "outcome", "error")
    because = f": {reason}" if reason else ""
    if status == "completed":
        return "The session completed."
    if status == "refused":
        return f"The session was refused{because}."
    if status == "failed":
        return f"The session failed ({error or 'unknown error'}){because}."
    return "The session's outcome is not in the record."


def _words(record: Mapping[str, Any], writer: str, peer: str) -> list[str]:
    role = _str(record, "role")
    if role not in ("initiator", "responder"):
        return ["The record names no valid role; its contents cannot be put in words."]
    names = {role: writer, ("responder" if role == "initiator" else "initiator"): peer}
    return [
        f"{_cap(writer)} ran this session as the {role}, with {peer}.",
        _learned_line(record, "initiator", names),
        _learned_line(record, "responder", names),
        _sizes_line(record, names),
        _outcome_line(record),
    ]


def _facts(record: Mapping[str, Any]) -> str:
    kinds = _get(record, "kinds")
    rows = [
        ("purpose", text(_str(record, "purpose") or "\u2014", 200)),
        ("mode", text(_str(record, "mode") or "\u2014")),
        ("kinds", text(", ".join(str(k) for k in kinds) if isinstance(kinds, list) else "\u2014", 200)),
        ("session id", f'<span class="hash">{text(_str(record, "session_id") or chr(0x2014), 64)}</span>'),
        (
            "transcript hash",
            f'<span class="hash">{text(_str(record, "transcript_hash") or "none", 64)}</span>',
        ),
        ("started", text(_str(record, "times", "started") or "\u2014")),
        ("ended", text(_str(record, "times", "ended") or "\u2014")),
        ("messages", num(_int(record, "messages"))),
        (
            "writer's key",
            f'<span class="mono">{text(_str(record, "self", "fingerprint") or "unknown", 64)}</span>',
        ),
        (
            "peer's key",
            f'<span class="mono">{text(_str(record, "peer", "fingerprint") or "unknown", 64)}</span>',
        ),
    ]
    items = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in rows)
    return f'<dl class="facts">{items}</dl>'


def _check_line(check: RecordCheck) -> str:
    css = _CSS[check.status]
    line = f'<p class="check {css}" data-check="{attr(check.status)}">Signature: {text(check.status)}</p>'
    line += f'<p class="meta">{text(check.detail, 300)}</p>'
    if check.same_session is False:
        line += "<p class=\"check invalid\">This record's transcript hash differs from the report's.</p>"
    return line


def record_block(
    heading: str, record: Mapping[str, Any] | MissingRecord | None, check: RecordCheck | None, *, peer: str
) -> str:
    """One record in plain words (``heading`` is plain text; the writer is "you", the peer ``peer``)."""
    if record is None:
        return f'<div class="record"><h3>{text(heading)}</h3><p class="empty">no record</p></div>'
    if isinstance(record, MissingRecord):
        return (
            f'<div class="record invalid"><h3>{text(heading)}</h3>'
            f'<p class="error">record not shown: {text(record.reason, 300)}</p></div>'
        )
    check = check or RecordCheck("not checked", "no public key was given")
    words = "".join(f"<li>{text(w, 600)}</li>" for w in _words(record, "you", peer))
    return (
        f'<div class="record {_CSS[check.status]}" data-peer="{attr(peer)}"><h3>{text(heading)}</h3>'
        f'{_check_line(check)}<ul class="words">{words}</ul>{_facts(record)}</div>'
    )
