"""The own items of a session party, from whichever of the three parameters was given.

``indicators`` (:class:`~blindmatch.psi.IndicatorItems`) is used as it is; ``items_by_kind`` is converted
once into one; raw ``items`` are made distinct (:func:`blindmatch.psi._items.distinct_items`) and checked
against the padding's dummy prefix. De-duplication and the map back to ``(kind, canonical)`` live in
:mod:`blindmatch.psi._items` only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..canonical import CANON_VERSION
from ..errors import InvalidParameter
from ..psi import IndicatorItems
from ..psi._items import distinct_items
from .padding import DUMMY_PREFIX

__all__ = ["own_items"]


def own_items(
    indicators: IndicatorItems | None,
    items_by_kind: Mapping[str, Iterable[str]] | None,
    items: Iterable[bytes] | None,
    canon_version: int = CANON_VERSION,
) -> IndicatorItems | list[bytes]:
    """The party's indicator items, or its distinct raw items (none may start with the dummy prefix)."""
    if sum(x is not None for x in (indicators, items_by_kind, items)) != 1:
        raise InvalidParameter("give exactly one of indicators, items_by_kind and items")
    if indicators is not None:
        if not isinstance(indicators, IndicatorItems):
            raise InvalidParameter("indicators must be IndicatorItems (blindmatch.psi.IndicatorItems)")
        return indicators
    if items_by_kind is not None:
        if not isinstance(items_by_kind, Mapping):
            raise InvalidParameter("items_by_kind must be a mapping {kind: canonical values}")
        return IndicatorItems(items_by_kind, canon_version=canon_version)
    raw = distinct_items(items or ())
    if any(it.startswith(DUMMY_PREFIX) for it in raw):
        raise InvalidParameter("an item starts with the reserved dummy prefix")
    return raw
