"""Items of the PSI protocol made from canonical indicators, and the one way back from them.

:func:`indicator_item` encodes one ``(kind, canonical)``; :class:`IndicatorItems` holds a whole set of them:
the distinct items (the only de-duplication of indicator items), grouped per kind, and the map from item
bytes back to ``(kind, canonical)``. Both the application layer (``IndicatorSet.psi_items()``) and the
session layer (``indicators=``) use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

from ..canonical import CANON_VERSION, check_canon_version
from ..errors import InvalidParameter

__all__ = ["ITEM_PREFIX", "IndicatorItems", "distinct_items", "indicator_item"]

ITEM_PREFIX = b"blindmatch/psi-item/v1\x00"
_KIND_AT = len(ITEM_PREFIX) + 1  # where the kind's length byte is (after the canon version)


def indicator_item(kind: str, canonical: str, canon_version: int = CANON_VERSION) -> bytes:
    """The PSI item for a canonical indicator ``(kind, canonical)``.

    ``prefix || canon version (1 byte) || len(kind) (1 byte) || kind || len(value) (4 bytes BE) || value``
    (UTF-8): versioned, domain-separated (the same value under two kinds gives two unrelated items) and
    unambiguous. ``canonical`` must already be canonical under ``canon_version`` (see
    :func:`blindmatch.canonical.canonicalize`): items of two canon versions never equal each other.
    """
    if not isinstance(kind, str) or not isinstance(canonical, str):
        raise InvalidParameter("kind and canonical must be str")
    k = kind.encode("ascii", errors="strict") if kind.isascii() else b""
    if not k or len(k) > 255:
        raise InvalidParameter("kind must be 1 to 255 ASCII characters")
    try:
        v = canonical.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidParameter("canonical value is not encodable as UTF-8") from None
    if len(v) >= 1 << 32:
        raise InvalidParameter("canonical value too long")
    return b"".join(
        (ITEM_PREFIX, bytes([check_canon_version(canon_version), len(k)]), k, len(v).to_bytes(4, "big"), v)
    )


def distinct_items(items: Iterable[bytes]) -> list[bytes]:
    """Raw items (byte strings) without repeats, in first-seen order."""
    if isinstance(items, bytes | bytearray | str):
        raise InvalidParameter("items must be an iterable of bytes")
    seen: set[bytes] = set()
    out: list[bytes] = []
    for it in items:
        if not isinstance(it, bytes):
            raise InvalidParameter("items must be bytes")
        if it not in seen:
            seen.add(it)
            out.append(it)
    return out


def _kind_of(item: bytes) -> str | None:
    """The kind an indicator item names (``None`` for bytes that are not an indicator item)."""
    if len(item) <= _KIND_AT or not item.startswith(ITEM_PREFIX):
        return None
    end = _KIND_AT + 1 + item[_KIND_AT]
    return item[_KIND_AT + 1 : end].decode("ascii", errors="replace")


@dataclass(frozen=True, eq=False, repr=False)
class _Kind:
    """The distinct values of one kind (first-seen order), their items and the map back item -> value."""

    values: tuple[str, ...]
    items: tuple[bytes, ...]
    back: Mapping[bytes, str]

    @classmethod
    def of(cls, kind: str, values: Iterable[str], version: int) -> _Kind:
        if isinstance(values, str | bytes):
            raise InvalidParameter(f"the values of kind {kind!r} must be an iterable of str, not one str")
        back: dict[bytes, str] = {}
        for value in values:
            it = indicator_item(kind, value, version)
            if it not in back:
                back[it] = value
        return cls(tuple(back.values()), tuple(back), back)


_EMPTY = _Kind((), (), {})


class IndicatorItems:
    """The PSI items of canonical indicators: distinct, grouped per kind, with the one map back.

    Built once from ``{kind: canonical values}`` (or ``(kind, canonical)`` pairs); values must already be
    canonical. Every distinct ``(kind, canonical)`` gives one item (:func:`indicator_item`); repeats count
    once. Kinds are kept sorted (a kind named with no value is kept too: it is named, it just holds
    nothing), values in the order first given; :attr:`items` lists the items in that order.

    Immutable: :meth:`select` shares the per-kind groups instead of copying or re-encoding them, so a
    server can make one party per connection from one instance. Its ``repr`` shows counts, never a value.
    """

    __slots__ = ("__weakref__", "_groups", "_size", "_version")

    _groups: Mapping[str, _Kind]
    _size: int
    _version: int

    def __init__(
        self,
        indicators: Mapping[str, Iterable[str]] | Iterable[tuple[str, str]] = (),
        *,
        canon_version: int = CANON_VERSION,
    ) -> None:
        groups: dict[str, _Kind]
        version = check_canon_version(canon_version)
        if isinstance(indicators, Mapping):
            groups = {k: _Kind.of(k, v, version) for k, v in indicators.items()}
        elif isinstance(indicators, str | bytes):
            raise InvalidParameter("indicators must be a mapping {kind: values} or (kind, value) pairs")
        else:
            per_kind: dict[str, list[str]] = {}
            for pair in indicators:
                if not isinstance(pair, tuple) or len(pair) != 2:
                    raise InvalidParameter("indicators must be (kind, canonical) pairs")
                per_kind.setdefault(pair[0], []).append(pair[1])
            groups = {k: _Kind.of(k, v, version) for k, v in per_kind.items()}
        self._set(groups, version)

    def _set(self, groups: Mapping[str, _Kind], version: int) -> None:
        object.__setattr__(self, "_groups", {k: groups[k] for k in sorted(groups)})
        object.__setattr__(self, "_size", sum(len(g.items) for g in groups.values()))
        object.__setattr__(self, "_version", version)

    @classmethod
    def _of_groups(cls, groups: Mapping[str, _Kind], version: int) -> IndicatorItems:
        out = cls.__new__(cls)
        out._set(groups, version)
        return out

    @property
    def canon_version(self) -> int:
        """The canon version the values were canonicalized under (each item carries it)."""
        return self._version

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("IndicatorItems is immutable")

    def __len__(self) -> int:
        """The number of distinct items."""
        return self._size

    def __repr__(self) -> str:
        per_kind = ", ".join(f"{k}={len(g.items)}" for k, g in self._groups.items())
        return f"<IndicatorItems {self._size} items ({per_kind})>"

    @property
    def kinds(self) -> tuple[str, ...]:
        """The kinds named, sorted."""
        return tuple(self._groups)

    @property
    def items(self) -> list[bytes]:
        """The distinct items, kinds sorted, values in the order first given (a new list)."""
        return list(chain.from_iterable(g.items for g in self._groups.values()))

    def __iter__(self) -> Iterator[bytes]:
        return chain.from_iterable(g.items for g in self._groups.values())

    def __contains__(self, item: object) -> bool:
        return isinstance(item, bytes) and self.indicator_of(item) is not None

    def items_of(self, kind: str) -> Sequence[bytes]:
        """The distinct items of ``kind`` (empty if none), in the order of :meth:`values`."""
        return self._groups.get(kind, _EMPTY).items

    def values(self, kind: str) -> Sequence[str]:
        """The distinct canonical values of ``kind`` (empty if none), in the order first given."""
        return self._groups.get(kind, _EMPTY).values

    def items_by_kind(self) -> dict[str, list[str]]:
        """``{kind: distinct canonical values}`` (new lists)."""
        return {k: list(g.values) for k, g in self._groups.items()}

    def select(self, kinds: Iterable[str]) -> IndicatorItems:
        """Only the items of ``kinds`` (kinds held, that is: a kind not held is left out). Shares the
        per-kind groups with this instance: nothing is copied or encoded again."""
        if isinstance(kinds, str):
            raise InvalidParameter("kinds must be an iterable of kind names")
        wanted = set(kinds)
        return self._of_groups({k: g for k, g in self._groups.items() if k in wanted}, self._version)

    @classmethod
    def combine(cls, parts: Iterable[IndicatorItems]) -> IndicatorItems:
        """One instance of the items of several, whose kinds must not overlap (groups are shared)."""
        groups: dict[str, _Kind] = {}
        versions: set[int] = set()
        for part in parts:
            if not isinstance(part, IndicatorItems):
                raise InvalidParameter("combine takes IndicatorItems")
            versions.add(part.canon_version)
            for k, g in part._groups.items():
                if k in groups:
                    raise InvalidParameter(f"kind {k!r} is in more than one of the parts")
                groups[k] = g
        if len(versions) > 1:
            raise InvalidParameter("combine takes items of one canon version")
        return cls._of_groups(groups, versions.pop() if versions else CANON_VERSION)

    def indicator_of(self, item: bytes) -> tuple[str, str] | None:
        """The ``(kind, canonical)`` that gives ``item``, or ``None`` if ``item`` is not one of these."""
        kind = _kind_of(item)
        group = self._groups.get(kind) if kind is not None else None
        value = group.back.get(item) if group is not None else None
        return (kind, value) if kind is not None and value is not None else None

    def map_back(self, items: Iterable[bytes]) -> list[tuple[str, str]]:
        """``(kind, canonical)`` of each item, in order; raises :class:`~blindmatch.InvalidParameter` for an
        item that is not one of these."""
        out: list[tuple[str, str]] = []
        for it in items:
            pair = self.indicator_of(it) if isinstance(it, bytes) else None
            if pair is None:
                raise InvalidParameter("an item is not one of these indicators' items")
            out.append(pair)
        return out
