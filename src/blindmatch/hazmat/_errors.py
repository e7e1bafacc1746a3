"""Errors of the group layer."""

from __future__ import annotations

from ..errors import RemoteProtocolError

__all__ = ["InvalidGroupElement"]


class InvalidGroupElement(RemoteProtocolError):
    """A peer sent a group element that is not acceptable (non-canonical, small order, duplicated)."""
