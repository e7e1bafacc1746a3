"""Each side pads only its own set, and the responder chooses how (issue 11, item B).

The initiator's manifest names the rule it pads its own set with (and proposes it to the responder); the
responder pads its own set with that rule when its policy allows it and with its first allowed rule
otherwise, and states the rule in its accept. A proposal of ``none`` no longer reveals the responder's
exact set size.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from cli_support import cli, make_lab_keys, serve, write_csv
from session_support import ALICE, BOB, make_parties, step

from blindmatch.errors import InvalidParameter
from blindmatch.session import (
    Identity,
    MalformedMessage,
    Manifest,
    PaddingViolation,
    Policy,
    verify_record,
)
from blindmatch.session import responder as responder_module
from blindmatch.session.channel import parse_header, split_message

B_15 = {"email": [f"user{i}@example.org" for i in range(5, 20)]}  # 15 responder items


def _accept_body(wire: list[bytes]) -> dict[str, object]:
    msg = split_message(wire[1], parse_header(wire[1]))
    return dict(json.loads(msg.body))


def test_a_none_proposal_does_not_reveal_the_responders_size() -> None:
    init, resp = make_parties(b_items=B_15, padding="none")
    wire = step(init, resp)
    assert _accept_body(wire)["padding"] == "pow2"  # the default policy: pow2, then cap
    assert _accept_body(wire)["padded_size"] == 16
    assert init.result is not None and init.result.peer_padded_size == 16
    for party in (init, resp):
        rec = party.record()
        assert rec["padding"] == {"initiator": "none", "responder": "pow2"}
        assert rec["padded_sizes"] == {"initiator": 10, "responder": 16}


def test_the_responder_uses_the_proposed_rule_when_it_allows_it() -> None:
    init, resp = make_parties(b_items=B_15, padding="cap", max_items=64)
    wire = step(init, resp)
    assert _accept_body(wire)["padding"] == "cap" and _accept_body(wire)["padded_size"] == 64
    assert resp.record()["padding"] == {"initiator": "cap", "responder": "cap"}


def test_a_responder_that_allows_none_pads_nothing() -> None:
    init, resp = make_parties(b_items=B_15, padding="pow2", policy=Policy(paddings=("none",)))
    wire = step(init, resp)
    assert _accept_body(wire)["padding"] == "none" and _accept_body(wire)["padded_size"] == 15
    assert init.record()["padding"] == {"initiator": "pow2", "responder": "none"}


def test_policy_padding_choice_and_validation() -> None:
    m = Manifest.propose(initiator=ALICE.public, responder=BOB.public, mode="intersection", kinds=["email"],
                         max_items=64, padding="none", purpose="t")  # fmt: skip
    assert Policy().padding_for(m) == "pow2"
    assert Policy(paddings=("cap", "pow2")).padding_for(m) == "cap"
    assert Policy(paddings=("none", "pow2")).padding_for(m) == "none"
    assert Policy(max_items_responder=64).refusal(m, "alice") is None  # its own padding is its own business
    for bad in ((), ("pow3",), ("pow2", "pow2")):
        with pytest.raises(InvalidParameter):
            Policy(paddings=bad)


def test_an_accept_whose_size_breaks_its_stated_rule_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    init, resp = make_parties(b_items=B_15)
    monkeypatch.setattr(responder_module, "padded_size", lambda rule, n, cap: n)  # states pow2, sends 15
    hello = init.start()
    accept = resp.receive(hello)
    assert accept is not None
    with pytest.raises(PaddingViolation, match="pow2"):
        init.receive(accept)


def test_an_accept_with_an_unknown_rule_is_malformed(monkeypatch: pytest.MonkeyPatch) -> None:
    init, resp = make_parties(b_items=B_15)
    monkeypatch.setattr(Policy, "padding_for", lambda self, manifest: "pow3")
    monkeypatch.setattr(responder_module, "padded_size", lambda rule, n, cap: 16)
    accept = resp.receive(init.start())
    assert accept is not None
    with pytest.raises(MalformedMessage, match="padding"):
        init.receive(accept)


def test_cli_serve_pads_its_own_set_whatever_connect_proposes(tmp_path: Path) -> None:
    lab = tmp_path / "lab"
    lab.mkdir()
    make_lab_keys(lab)
    write_csv(lab / "lab_a.csv", [("email", f"a{i}@example.org") for i in range(5)])
    write_csv(lab / "lab_b.csv", [("email", f"a{i}@example.org") for i in range(3, 8)])  # 5 items
    w = tmp_path / "w"
    w.mkdir()
    server, port = serve(lab, w, "lab_b.csv", 64)
    try:
        r = cli("connect", "--identity", str(lab / "a.pem"), "--peers", str(lab / "a-peers.json"), "--peer",
                "lab-b", "--port", port, "-i", str(lab / "lab_a.csv"), "--purpose", "t", "--max-items", "64",
                "--padding", "none", "--out-dir", str(w / "a-out"), cwd=w)  # fmt: skip
        server.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        server.kill()
        raise
    assert r.returncode == 0, r.stderr
    rec = verify_record(
        next((w / "b-out").glob("*-record.json")).read_text(), Identity.load(lab / "b.pem").public
    )
    assert rec["padding"] == {"initiator": "none", "responder": "pow2"}
    assert rec["padded_sizes"] == {"initiator": 5, "responder": 8}


def test_cli_allow_padding_is_validated(tmp_path: Path) -> None:
    r = cli("serve", "--allow-padding", "pow2,bogus", "--identity", "x.pem", "--peers", "p.json",
            "-i", "x.csv", cwd=tmp_path)  # fmt: skip
    assert r.returncode != 0 and "--allow-padding" in r.stderr
    r = cli("serve", "--help", cwd=tmp_path)
    assert "--allow-padding" in r.stdout and "pow2,cap" in r.stdout
    r = cli("connect", "--help", cwd=tmp_path)
    assert "own set" in " ".join(r.stdout.split())
