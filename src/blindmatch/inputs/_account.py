"""Account rows from a platform and an id, shared by the MISP and STIX readers."""

from __future__ import annotations

from ..canonical._platforms import lookup

__all__ = ["NumericAccountId", "account_value", "for_canon"]


class NumericAccountId(str):
    """A ``platform-id:N`` row value that also knows how canon version 1 read it (``platform:N``): canon 1
    exchanges of the same MISP or STIX file give what they gave before canon 2 existed."""

    v1: str

    def __new__(cls, value: str, v1: str) -> NumericAccountId:
        out = super().__new__(cls, value)
        out.v1 = v1
        return out


def for_canon(value: str, canon_version: int) -> str:
    """The row value to canonicalize under ``canon_version``: canon 1 reads numeric ids as before."""
    return value.v1 if canon_version == 1 and isinstance(value, NumericAccountId) else value


def account_value(platform: str, ident: str, *, numeric: bool = False) -> str:
    """``platform:id``, or ``platform-id:id`` for a field that holds an account's id (``numeric``) when
    the platform is one whose numeric ids canon version 2 knows and the id fits their syntax.

    MISP's ``twitter-id`` attribute, the ``id`` of its ``twitter-account``, ``github-user`` and
    ``telegram-account`` objects and STIX's ``user-account:user_id`` hold the platform's number, which
    canon version 2 keeps apart from handles (``twitter-id:12345`` is not the handle ``twitter:12345``).
    A value that is not a number of the platform (``twitter-id`` holding ``@alice``), or a platform with no
    numeric ids in the registry, keeps ``platform:id``.
    """
    p, v = platform.strip().lower(), ident.strip()
    if numeric:
        found = lookup(p)
        if found is not None and not found[1]:
            reg = found[0]
            if reg.handle is not None and reg.numeric_id is not None and reg.numeric_id.fullmatch(v):
                return NumericAccountId(f"{p}-id:{v}", f"{p}:{v}")
    return f"{p}:{v}"
