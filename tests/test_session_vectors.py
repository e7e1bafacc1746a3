"""Full-hex session transcript vectors (tests/vectors/session-transcripts-v2.json), checked two ways: rebuilt
from the specification by the standalone checker (cryptography primitives, _derive, the PSI checker and a
hand-written frame), and reproduced byte for byte by the session party classes. The version-1 file
(protocol blindmatch-session/1) stays for implementations of that version: the checker still rebuilds it."""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from blindmatch.psi import MODES
from blindmatch.session import Refused, verify_record

_DIR = Path(__file__).parent / "vectors"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, _DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


checker = _load("check_session_vectors")
maker = _load("make_session_vectors")
DOC = json.loads((_DIR / "session-transcripts-v2.json").read_text("utf-8"))
SESSIONS: list[dict[str, Any]] = DOC["sessions"]
V1 = _DIR / "session-transcripts-v1.json"


def test_vectors_cover_every_mode_padding_and_a_refusal() -> None:
    assert {v["manifest"]["protocol"] for v in SESSIONS} == {"blindmatch-session/2"}
    done = [v for v in SESSIONS if v["refusal_reason"] is None]
    assert {v["manifest"]["mode"] for v in done} == set(MODES)
    for v in done:
        if v["name"].endswith("/none"):  # neither side pads
            assert v["manifest"]["padding"] == "none" and v["policy"]["paddings"] == ["none"]
            assert all(v[f"{r}_result"]["own_padded_size"] == v[f"{r}_result"]["own_size"]
                       for r in ("initiator", "responder"))  # fmt: skip
    chosen = [v for v in done if v["manifest"]["padding"] not in v["policy"]["paddings"]]
    assert chosen, "a session where the responder pads by its own rule, not the proposed one"
    for v in chosen:
        assert v["responder_record"]["padding"] == {"initiator": "none", "responder": "pow2"}
        assert v["initiator_result"]["peer_padded_size"] > v["responder_result"]["own_size"]
    pow2 = [v for v in done if v["manifest"]["padding"] == "pow2"]
    assert pow2 and any(v["manifest"]["mode"] == "mutual" for v in pow2)
    for v in pow2:  # dummies on both sides
        for role in ("initiator", "responder"):
            res = v[f"{role}_result"]
            assert res["own_padded_size"] > res["own_size"]
    refused = [v for v in SESSIONS if v["refusal_reason"] is not None]
    assert len(refused) == 1 and [m["sender"] for m in refused[0]["messages"]] == ["initiator", "responder"]
    assert refused[0]["manifest"]["mode"] not in refused[0]["policy"]["modes"]
    for v in done:
        senders = [m["sender"] for m in v["messages"]]
        assert len(senders) == (5 if v["manifest"]["mode"].startswith("mutual") else 4)
        assert senders == ["initiator", "responder"] * 2 + ["initiator"] * (len(senders) - 4)
        assert 1 <= v["initiator_result"]["count"] <= 2 or v["initiator_result"]["learned"] == "nothing"


def test_checker_rebuilds_every_session(capsys: pytest.CaptureFixture[str]) -> None:
    assert checker.check() == []
    assert checker.main(["check"]) == 0
    n = len(SESSIONS)
    assert f"{n} of {n} sessions match" in capsys.readouterr().out


def test_checker_still_rebuilds_the_version_1_vectors(capsys: pytest.CaptureFixture[str]) -> None:
    old = json.loads(V1.read_text("utf-8"))
    assert {v["manifest"]["protocol"] for v in old["sessions"]} == {"blindmatch-session/1"}
    assert checker.check(V1) == []
    assert checker.main(["check", str(V1)]) == 0
    n = len(old["sessions"])
    assert f"{n} of {n} sessions match" in capsys.readouterr().out
    for v in old["sessions"]:  # version-1 records still verify
        for role in ("initiator", "responder"):
            rec = verify_record(v[f"{role}_record"], bytes.fromhex(old["identities"][role]["public_key"]))
            assert rec["version"] == 1 and isinstance(rec["padding"], str)


def test_checker_catches_a_flipped_byte_and_a_changed_result(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = copy.deepcopy(DOC)
    wire = bytearray.fromhex(doc["sessions"][1]["messages"][3]["hex"])
    wire[100] ^= 0x01  # inside the ciphertext of the PSI response
    doc["sessions"][1]["messages"][3]["hex"] = wire.hex()
    doc["sessions"][2]["initiator_result"]["count"] += 1
    doc["sessions"][-1]["responder_record"]["outcome"]["reason"] += "."
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc), "utf-8")
    assert checker.check(path) == [SESSIONS[i]["name"] for i in (1, 2, len(SESSIONS) - 1)]
    assert checker.main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "message 3 (responder): first difference at byte 100" in out
    assert "initiator_result: count" in out
    n = len(SESSIONS)
    assert f"{n - 3} of {n} sessions match" in out


@pytest.mark.parametrize("v", SESSIONS, ids=lambda v: v["name"])
def test_party_classes_reproduce_every_message(v: dict[str, Any]) -> None:
    init, resp = maker.parties(v)
    stored = [bytes.fromhex(m["hex"]) for m in v["messages"]]
    with maker.pinned_version():
        out: bytes | None = init.start()
        assert out == stored[0]
        for k, expected in enumerate(stored[1:], start=1):
            out = (resp if k % 2 else init).receive(stored[k - 1])
            assert out == expected, f"message {k}"
        if v["refusal_reason"] is not None:
            with pytest.raises(Refused) as err:
                init.receive(stored[-1])
            assert err.value.reason == v["refusal_reason"] == resp.refusal_reason
        else:
            assert (resp if len(stored) % 2 else init).receive(stored[-1]) is None
        assert init.done and resp.done
        records = {"initiator": init.record(), "responder": resp.record()}
    results = {"initiator": init.result, "responder": resp.result}
    ids = maker.identities()
    for role in ("initiator", "responder"):
        assert maker.result_summary(results[role]) == v[f"{role}_result"]
        assert records[role] == v[f"{role}_record"]
        verify_record(v[f"{role}_record"], ids[role].public)
        assert DOC["identities"][role]["public_key"] == ids[role].public.raw.hex()
