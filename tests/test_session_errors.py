"""Errors at the boundaries: PSI errors become session errors in one place; local file failures are typed."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
from session_support import make_parties

import blindmatch as bm
from blindmatch import psi
from blindmatch.hazmat import InvalidGroupElement
from blindmatch.session import CapExceeded, MalformedMessage, SessionError
from blindmatch.session._base import psi_boundary
from blindmatch.transport import MessageFileError, StateFileError, read_message, read_state, write_message


def test_the_session_malformed_message_is_the_psi_one_too() -> None:
    assert issubclass(MalformedMessage, psi.MalformedMessage) and issubclass(MalformedMessage, SessionError)
    assert not issubclass(psi.MalformedMessage, SessionError)


@pytest.mark.parametrize(
    ("raised", "seen"),
    [
        (psi.PeerTooLarge("3 > 2"), CapExceeded),
        (psi.MalformedMessage("truncated"), MalformedMessage),
        (psi.UnexpectedMessage("wrong type"), MalformedMessage),
        (psi.ModeNotAllowed("mutual"), MalformedMessage),
        (InvalidGroupElement("not on the curve"), MalformedMessage),
    ],
)
def test_psi_errors_are_translated_once_keeping_the_cause(raised: Exception, seen: type[Exception]) -> None:
    def step(payload: bytes) -> bytes | None:
        raise raised

    with pytest.raises(seen) as info:
        psi_boundary(step, b"")
    assert type(info.value) is seen and info.value.__cause__ is raised
    assert str(raised) in str(info.value)


def test_a_session_error_passes_the_boundary_unchanged() -> None:
    err = MalformedMessage("already ours")

    def step(payload: bytes) -> bytes | None:
        raise err

    with pytest.raises(MalformedMessage) as info:
        psi_boundary(step, b"")
    assert info.value is err


class _Unexpected:
    """A PSI responder that finds the (well-encrypted) request does not belong here."""

    def respond(self, request: bytes) -> bytes:
        raise psi.UnexpectedMessage("the request is for another PSI session")


def test_a_session_user_sees_the_session_error_for_a_psi_failure() -> None:
    init, resp = make_parties()
    accept = resp.receive(init.start()) or b""
    request = init.receive(accept) or b""
    resp._work = dataclasses.replace(resp._work, psi=_Unexpected())  # type: ignore[arg-type, type-var]
    with pytest.raises(MalformedMessage) as info:
        resp.receive(request)
    assert isinstance(info.value.__cause__, psi.UnexpectedMessage)
    assert resp.failed and resp.record()["outcome"]["error"] == "MalformedMessage"


def test_local_file_failures_have_their_own_types(tmp_path: Path) -> None:
    with pytest.raises(MessageFileError):
        read_message(tmp_path / "missing.bin")
    with pytest.raises(MessageFileError):
        write_message(tmp_path / "no-such-folder" / "m.bin", b"x")
    with pytest.raises(StateFileError):
        read_state(tmp_path / "missing.state")
    for cls in (MessageFileError, StateFileError):
        assert issubclass(cls, bm.FileAccessError) and issubclass(cls, bm.InvalidParameter)
        assert issubclass(cls, bm.LocalError) and not issubclass(cls, bm.RemoteError)


def test_input_files_that_cannot_be_read_are_file_access_errors(tmp_path: Path) -> None:
    with pytest.raises(bm.FileAccessError):
        bm.read_indicators(tmp_path / "missing.csv", kind="ip")
    if os.name == "posix" and os.geteuid() != 0:
        locked = tmp_path / "locked.csv"
        locked.write_text("1.2.3.4\n")
        locked.chmod(0)
        with pytest.raises(bm.FileAccessError):
            bm.read_indicators(locked, kind="ip")
