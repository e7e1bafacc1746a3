"""Issue 16 item 5: the report as one self-contained HTML page.

Part (a) checks the HTML text: the exact CSP, no script, no URL, every hostile string only escaped. Part
(b) renders the page in a real headless Chromium (``--dump-dom``) and asserts on the DOM it built: title,
bars per chart, labels and counts, hostile strings as text and no element they could have made, the failed
pair's error, the signature status of a valid and of a tampered record. Without Chromium part (b) is
skipped, unless ``CI=true``, where it fails (``.ci/run`` installs Chromium, so CI always renders).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, ClassVar

import pytest
from cli_support import make_lab_keys, write_csv
from session_support import ALICE, BOB, CAROL, make_parties, step, trust

from blindmatch.cli import main
from blindmatch.errors import MalformedFile
from blindmatch.outputs import CSP, MissingRecord, exchange_html, round_html
from blindmatch.outputs._html_base import STYLE

HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "</style><b>style escape</b>",
    "evil\u202etxt.exe",
    "nul\x00byte",
]
#: How each hostile string reads on the page (control and bidi characters shown as their escapes).
SHOWN = [h.replace("\u202e", "\\u202e").replace("\x00", "\\x00") for h in HOSTILE]

A_ROWS = [("email", "alicesmith@gmail.com"), ("ip", "203.0.113.7"), ("ip", "198.51.100.9")] + [
    ("email", f"only-a-{i}@example.net") for i in range(5)
]
B_ROWS = [
    ("email", "alicesmith@gmail.com"),
    ("ip", "203.0.113.7"),
    ("ip", "198.51.100.9"),
    ("domain", "b.example"),
]


# ---- inputs: a real exchange (CLI file flow), real records, a hand-written round report ----------------


def _exchange(d: Path) -> None:
    """Lab A and lab B run a mutual exchange over message files in ``d`` (a-report.json, a-record.json)."""
    make_lab_keys(d)
    write_csv(d / "a.csv", A_ROWS)
    write_csv(d / "b.csv", B_ROWS)
    a, b = (str(d / "a.state"), str(d / "b.state"))
    common = ["-q"]
    assert main(["psi", "initiate", "--identity", str(d / "a.pem"), "--peers", str(d / "a-peers.json"),
                 "--peer", "lab-b", "-i", str(d / "a.csv"), "--purpose", "html report test",
                 "--max-items", "64", "--mode", "mutual", "--state", a, *common]) == 0  # fmt: skip
    assert main(["psi", "respond", "--identity", str(d / "b.pem"), "--peers", str(d / "b-peers.json"),
                 "-i", str(d / "b.csv"), "--message", str(d / "a-msg0.bin"), "--state", b,
                 "--max-own-items", "64", *common]) == 0  # fmt: skip
    for n, side in enumerate(["a", "b", "a", "b"], start=1):
        other = "b" if side == "a" else "a"
        state = a if side == "a" else b
        assert main(["psi", "continue", "--state", state, "--message", str(d / f"{other}-msg{n}.bin"),
                     "--html", *common]) == 0  # fmt: skip


@pytest.fixture(scope="module")
def exchange_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("exchange")
    _exchange(d)
    return d


def _lab_key(d: Path) -> Any:
    from blindmatch.session import Identity

    return Identity.load(d / "a.pem").public


def _record(responder: Any, name: str, seed: bytes) -> dict[str, Any]:
    """Alice's record of a real session with ``responder`` (Alice's trust store names it ``name``)."""
    init, resp = make_parties(responder=responder, seed=seed, peers=trust(("alice", ALICE)), peer_name=name)
    step(init, resp)
    return init.record()


def tamper(record: dict[str, Any]) -> dict[str, Any]:
    """The record with one padded size changed after signing: its signature no longer verifies."""
    bad = copy.deepcopy(record)
    bad["padded_sizes"]["responder"] = 1
    return bad


def round_inputs() -> tuple[dict[str, Any], dict[str, Any]]:
    """A round report of three pairs (one done with a valid record, one with a hostile name and a tampered
    record, one failed with a hostile error) and the records by lab name."""
    good = _record(BOB, "lab-b", b"r1")
    evil_name = HOSTILE[0]
    bad = tamper(_record(CAROL, "lab-c", b"r2"))
    labs = [
        {"name": "lab-b", "status": "done", "error": None, "matches": 3,
         "transcript_hash": good["transcript_hash"], "record": "lab-b-record.json"},
        {"name": evil_name, "status": "done", "error": None, "matches": 2,
         "transcript_hash": bad["transcript_hash"], "record": "lab-c-record.json"},
        {"name": "lab-d", "status": "failed", "error": "peer refused: " + HOSTILE[1], "matches": 0,
         "transcript_hash": None, "record": None},
    ]  # fmt: skip
    indicators = [
        {"kind": "email", "value": "alicesmith@gmail.com", "canonical": "alicesmith@gmail.com",
         "origin": "a.csv:2", "held_by": ["me-lab", "lab-b", evil_name]},
        {"kind": "ip", "value": HOSTILE[2], "canonical": "203.0.113.7", "origin": HOSTILE[3],
         "held_by": ["me-lab", "lab-b"]},
        {"kind": HOSTILE[4], "value": "x" * 300, "canonical": "x" * 300, "origin": "a.csv:4",
         "held_by": ["me-lab", "lab-b", evil_name]},
    ]  # fmt: skip
    report = {
        "format": "blindmatch-round-report/1", "round": "2026-Q4 " + HOSTILE[1], "me": "me-lab",
        "generated": "2026-12-02T17:00:00Z", "threshold": 3, "labs": labs, "indicators": indicators,
        "per_kind": {"email": {"lab-b": 1, evil_name: 1, "lab-d": 0},
                     "ip": {"lab-b": 1, evil_name: 0, "lab-d": 0},
                     HOSTILE[4]: {"lab-b": 1, evil_name: 1, "lab-d": 0}},
        "over_threshold": [0, 2],
    }  # fmt: skip
    return report, {"lab-b": good, evil_name: bad}


def exchange_page(d: Path, *, tampered: bool = False, hostile: bool = False) -> str:
    report = json.loads((d / "a-report.json").read_text())
    record = json.loads((d / "a-record.json").read_text())
    if hostile:
        report["peer"] = HOSTILE[0]
        report["matches"][0]["value"] = HOSTILE[1]
        report["matches"][0]["origin"] = HOSTILE[2] + HOSTILE[3] + HOSTILE[4]
    return exchange_html(report, tamper(record) if tampered else record, keys=[_lab_key(d)])


# ---- (a) the HTML text ---------------------------------------------------------------------------------


def _pages(d: Path) -> Iterator[str]:
    yield exchange_page(d, hostile=True)
    report, records = round_inputs()
    yield round_html(report, records, keys=[ALICE.public])


def test_csp_is_exact_and_names_the_one_style_sheet(exchange_dir: Path) -> None:
    digest = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
    want = (
        f"default-src 'none'; style-src 'sha256-{digest}'; img-src data:; base-uri 'none'; form-action 'none'"
    )
    assert want == CSP
    for html in _pages(exchange_dir):
        assert f'<meta http-equiv="Content-Security-Policy" content="{CSP}">' in html
        styles = re.findall(r"<style>(.*?)</style>", html, re.S)
        assert styles == [STYLE]
        assert "unsafe-inline" not in html


def test_no_script_no_url_no_style_attribute(exchange_dir: Path) -> None:
    for html in _pages(exchange_dir):
        low = html.lower()
        assert "<script" not in low and "<img" not in low and "javascript:" not in low
        assert "http:" not in low and "https:" not in low and "url(" not in low and "@import" not in low
        tags = re.sub(r'"[^"]*"', '""', html)  # attribute values out of the way: what is left is markup
        assert " style=" not in tags and not re.search(r"<[^>]*\son[a-z]+\s*=", tags)


def test_hostile_strings_appear_only_escaped(exchange_dir: Path) -> None:
    for html in _pages(exchange_dir):
        for raw in HOSTILE:
            assert raw not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
        assert "\u202e" not in html and "\x00" not in html
        assert "evil\\u202etxt.exe" in html and "nul\\x00byte" in html
        assert html.count("</style>") == 1


def test_long_values_are_cut_with_the_whole_value_in_a_title() -> None:
    report, records = round_inputs()
    html = round_html(report, records)
    assert f'title="{"x" * 300}"' in html
    assert "x" * 79 + "\u2026" in html and "x" * 81 not in html.replace(f'title="{"x" * 300}"', "")


def test_malformed_reports_raise_typed_errors(exchange_dir: Path) -> None:
    report, _ = round_inputs()
    for broken in ({"format": "nope"}, {**report, "labs": "x"}, {**report, "over_threshold": [9]},
                   {**report, "labs": [report["labs"][0]] * 2}, {**report, "threshold": True}):  # fmt: skip
        with pytest.raises(MalformedFile):
            round_html(broken)
    local = json.loads((exchange_dir / "a-report.json").read_text())
    for broken in ({**local, "matches": [1]}, {**local, "own_size": -1}, {**local, "counts_per_kind": []}):
        with pytest.raises(MalformedFile):
            exchange_html(broken)


def test_signature_status_in_the_text(exchange_dir: Path) -> None:
    assert 'data-check="verified"' in exchange_page(exchange_dir)
    assert 'data-check="signature invalid"' in exchange_page(exchange_dir, tampered=True)
    record = json.loads((exchange_dir / "a-record.json").read_text())
    report = json.loads((exchange_dir / "a-report.json").read_text())
    assert 'data-check="not checked"' in exchange_html(report, record)
    assert "record not shown: no file" in exchange_html(report, MissingRecord("no file"))


# ---- (b) a real headless Chromium ----------------------------------------------------------------------


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("CI") == "true":
        pytest.fail("no chromium on PATH in CI (.ci/run installs it): the page must be rendered")
    pytest.skip("no chromium, chromium-browser or google-chrome on PATH: the browser render is not tested")


def render(html: str, where: Path) -> tuple[str, str]:
    """The DOM Chromium built from ``html`` (a file in ``where``), and what it logged."""
    page = where / "page.html"
    page.write_text(html, encoding="utf-8")
    proc = subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
         "--virtual-time-budget=2000", f"--user-data-dir={where / 'profile'}", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "<html" in proc.stdout
    return proc.stdout, proc.stderr


class Node:
    def __init__(self, tag: str, attrs: dict[str, str], parent: Node | None) -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node | str] = []

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def walk(self) -> Iterator[Node]:
        yield self
        for c in self.children:
            if isinstance(c, Node):
                yield from c.walk()

    def find(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> list[Node]:
        return [
            n
            for n in self.walk()
            if (tag is None or n.tag == tag)
            and (cls is None or cls in n.classes())
            and all(n.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())
        ]


class DomTree(HTMLParser):
    VOID: ClassVar[set[str]] = {
        "meta",
        "br",
        "img",
        "input",
        "link",
        "hr",
        "area",
        "base",
        "col",
        "embed",
        "source",
        "wbr",
    }

    def __init__(self, dom: str) -> None:
        super().__init__(convert_charrefs=True)
        self.root = self.cur = Node("#root", {}, None)
        self.feed(dom)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs}, self.cur)
        self.cur.children.append(node)
        if tag not in self.VOID:
            self.cur = node

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.cur.children.append(Node(tag, {k: v or "" for k, v in attrs}, self.cur))

    def handle_endtag(self, tag: str) -> None:
        n: Node | None = self.cur
        while n is not None and n.tag != tag:
            n = n.parent
        if n is not None and n.parent is not None:
            self.cur = n.parent

    def handle_data(self, data: str) -> None:
        self.cur.children.append(data)


def rendered(html: str, where: Path) -> Node:
    dom, log = render(html, where)
    assert "Content Security Policy" not in log, [ln for ln in log.splitlines() if "Security Policy" in ln]
    tree = DomTree(dom).root
    assert tree.find("script") == [] and tree.find("img") == [] and tree.find("iframe") == []
    assert not any(k.startswith("on") for n in tree.walk() for k in n.attrs)
    return tree


def bars(tree: Node, chart: str) -> list[tuple[str, str]]:
    """``(label, value)`` of each bar of the chart ``chart``, in order."""
    (svg,) = tree.find("svg", data_chart=chart)
    rows = svg.find("g", "row")
    assert len(svg.find("rect", "bar")) == len(rows)
    return [(r.find("text", "bar-label")[0].text(), r.find("text", "bar-value")[0].text()) for r in rows]


def texts(tree: Node) -> str:
    return "\n".join(c for n in tree.walk() for c in n.children if isinstance(c, str))


def test_browser_renders_the_exchange_page(exchange_dir: Path, tmp_path: Path) -> None:
    report = json.loads((exchange_dir / "a-report.json").read_text())
    tree = rendered(exchange_page(exchange_dir, hostile=True), tmp_path)
    (title,) = tree.find("head")[0].find("title")
    assert title.text() == f"blindmatch: exchange with {HOSTILE[0]}"
    per_kind = report["counts_per_kind"]
    assert bars(tree, "kinds") == [("email", "1 (1 row)"), ("ip", "2 (2 rows)")]
    assert per_kind == {"email": {"rows": 1, "distinct": 1}, "ip": {"rows": 2, "distinct": 2}}
    shown = texts(tree)
    for s in (SHOWN[0], SHOWN[1], SHOWN[2] + SHOWN[3] + SHOWN[4]):
        assert s in shown
    rows = tree.find("table", "matches")[0].find("tr")[1:]
    assert len(rows) == len(report["matches"]) == 3
    (check,) = tree.find("p", "check")
    assert check.text() == "Signature: verified"
    words = tree.find("ul", "words")[0].text()
    assert "You learned which of your 8 (padded) items are also in" in words
    assert "The session completed." in words
    assert report["transcript_hash"] in texts(tree)


def test_browser_shows_a_tampered_record_as_invalid(exchange_dir: Path, tmp_path: Path) -> None:
    tree = rendered(exchange_page(exchange_dir, tampered=True), tmp_path)
    (check,) = tree.find("p", "check")
    assert check.text() == "Signature: signature invalid"
    assert "altered or forged" in tree.find("div", "record")[0].text()


def test_browser_renders_the_round_page(tmp_path: Path) -> None:
    report, records = round_inputs()
    tree = rendered(round_html(report, records, keys=[ALICE.public]), tmp_path)
    assert tree.find("head")[0].find("title")[0].text() == f"blindmatch: round 2026-Q4 {HOSTILE[1]}"
    assert bars(tree, "labs") == [("lab-b", "3"), (HOSTILE[0], "2"), ("lab-d", "failed")]
    assert bars(tree, "kinds") == [("email", "1"), ("ip", "1"), (SHOWN[4], "1")]
    heat = tree.find("table", "heat")[0]
    assert [th.text() for th in heat.find("th")] == ["kind", "lab-b", HOSTILE[0], "lab-d"]
    assert len(heat.find("tr")) == 1 + len(report["per_kind"])
    (failed,) = tree.find("tr", "failed")
    assert failed.find("td")[0].text() == "lab-d"
    assert failed.find("td", "error")[0].text() == "peer refused: " + HOSTILE[1]
    checks = {d.attrs["data-peer"]: d.find("p", "check")[0].text() for d in tree.find("div", "record")
              if "data-peer" in d.attrs}  # fmt: skip
    assert checks == {"lab-b": "Signature: verified", HOSTILE[0]: "Signature: signature invalid"}
    shown = texts(tree)
    for s in SHOWN:
        assert s in shown
    over = tree.find("section", id="over")[0].find("tr")[1:]
    assert len(over) == len(report["over_threshold"])


# ---- the command: blindmatch report html; --html on the exchange commands ------------------------------


def test_html_flag_writes_each_sides_page_beside_its_report(exchange_dir: Path) -> None:
    for side, peer in (("a", "lab-b"), ("b", "lab-a")):
        page = exchange_dir / f"{side}-report.html"
        assert page.stat().st_mode & 0o777 == 0o600
        html = page.read_text(encoding="utf-8")
        assert f"Exchange with {peer}" in html and 'data-check="verified"' in html
        report = json.loads((exchange_dir / f"{side}-report.json").read_text())
        assert report["transcript_hash"] in html


def test_report_html_writes_the_exchange_page(exchange_dir: Path, tmp_path: Path) -> None:
    pub = tmp_path / "a.pem.pub"
    pub.write_text(_lab_key(exchange_dir).to_text() + "\n")
    out = tmp_path / "page.html"
    assert main(["report", "html", str(exchange_dir / "a-report.json"), "-o", str(out), "--key", str(pub),
                 "-q"]) == 0  # fmt: skip
    assert out.stat().st_mode & 0o777 == 0o600
    html = out.read_text(encoding="utf-8")
    assert 'data-check="verified"' in html and "Exchange with lab-b" in html
    assert main(["report", "html", str(exchange_dir / "a-report.json"), "-o", str(out), "-q"]) == 0
    assert 'data-check="not checked"' in out.read_text(encoding="utf-8")


def test_report_html_writes_the_round_page(tmp_path: Path) -> None:
    report, records = round_inputs()
    report["labs"].append({"name": "lab-e", "status": "done", "error": None, "matches": 0,
                           "transcript_hash": None, "record": "../outside.json"})  # fmt: skip
    (tmp_path / "outside.json").write_text("{}")
    folder = tmp_path / "round"
    folder.mkdir()
    (folder / "round.json").write_text(json.dumps(report))
    (folder / "lab-b-record.json").write_text(json.dumps(records["lab-b"]))
    (folder / "lab-c-record.json").write_text(json.dumps(records[HOSTILE[0]]))
    peers = trust(("alice", ALICE))
    peers.save(tmp_path / "peers.json")
    out = tmp_path / "round.html"
    assert main(["report", "html", str(folder / "round.json"), "-o", str(out), "--peers",
                 str(tmp_path / "peers.json"), "-q"]) == 0  # fmt: skip
    html = out.read_text(encoding="utf-8")
    assert html.count('data-check="verified"') == 1 and html.count('data-check="signature invalid"') == 1
    assert "record not shown: the record path leaves the report&#x27;s folder" in html


@pytest.mark.parametrize(
    ("content", "code"),
    [(b"not json", 3), (b'{"format": "blindmatch-local-report/2"}', 3), (b"[1]", 3), (None, 5)],
)
def test_report_html_refuses_what_is_no_report(tmp_path: Path, content: bytes | None, code: int) -> None:
    src = tmp_path / "x-report.json"
    if content is not None:
        src.write_bytes(content)
    assert main(["report", "html", str(src), "-o", str(tmp_path / "x.html"), "-q"]) == code
    assert not (tmp_path / "x.html").exists()


def test_the_log_check_sees_a_csp_violation(tmp_path: Path) -> None:
    """The check of ``rendered`` works: a page whose style sheet does not match its hash is reported."""
    html = exchange_html_with_wrong_hash()
    _, log = render(html, tmp_path)
    assert "Content Security Policy" in log


def exchange_html_with_wrong_hash() -> str:
    report, records = round_inputs()
    return round_html(report, records).replace("<style>", "<style>b{color:red}", 1)


def test_a_record_of_another_session_is_marked() -> None:
    report, records = round_inputs()
    report["labs"][0]["transcript_hash"] = "00" * 32
    html = round_html(report, records, keys=[ALICE.public])
    assert html.count("transcript hash differs from the report") == 1
    assert html.count('data-check="verified"') == 1  # the signature itself is still good
