"""A state file owned by another user is refused (issue 11, D): only the user's own regular files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from blindmatch.transport import StateFileError, read_state, write_state


@pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0, reason="needs root to give a file away")
def test_a_state_file_of_another_user_is_refused(tmp_path: Path) -> None:
    p = write_state(tmp_path / "a.state", b"{}")
    assert read_state(p) == b"{}"
    os.chown(p, 65534, os.getegid())
    with pytest.raises(StateFileError, match="owned by another user"):
        read_state(p)
