"""Per-kind exclusion lists (issue 13, item 6): benign values are left out before an exchange, counted by
list, never by value."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from blindmatch.canonical import canonicalize
from blindmatch.errors import InvalidIndicator, InvalidParameter
from blindmatch.exclusions import RESERVED_NETWORKS, ExclusionList, Exclusions


def test_shipped_lists_leave_out_documentation_ranges_and_free_mail() -> None:
    ex = Exclusions()
    for ip in ("192.0.2.7", "198.51.100.1", "203.0.113.200", "10.1.2.3", "2001:db8::1", "::1", "fe80::1"):
        assert ex.reason("ip", canonicalize("ip", ip)) == "reserved-and-documentation-addresses", ip
    assert ex.reason("cidr", canonicalize("cidr", "198.51.100.0/25")) is not None
    assert ex.reason("cidr", canonicalize("cidr", "198.51.0.0/16")) is None  # wider than the block
    for ip in ("8.8.8.8", "1.1.1.1", "2606:4700::1111", "185.220.101.4"):
        assert ex.reason("ip", canonicalize("ip", ip)) is None, ip
    assert ex.reason("domain", "gmail.com") == "free-mail-domains"
    assert ex.reason("domain", "evil.example") is None
    assert ex.reason("email", "someone@gmail.com") is None  # a free-mail *address* is an indicator
    kept, counts = ex.split("ip", ["192.0.2.1", "8.8.8.8", "10.0.0.1"])
    assert kept == ["8.8.8.8"] and counts == {"reserved-and-documentation-addresses": 2}
    assert ex.names("domain") == ["free-mail-domains"]


def test_user_lists_are_canonicalized_and_named(tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "tor-exits.txt"
    path.write_text("# our Tor exit list\n185.220.101.0/24\n  45.153.160.2 \n\n")
    lst = ExclusionList.from_file(path, "ip")
    ex = Exclusions().with_lists([lst])
    assert ex.reason("ip", "185.220.101.4") == "tor-exits"
    assert ex.reason("ip", "45.153.160.2") == "tor-exits"
    domains = ExclusionList.from_lines("our-cloud", "domain", ["Cloud.Example.", "cdn.example"])
    assert domains.excludes("cloud.example") and domains.excludes("cdn.example")
    with pytest.raises(InvalidIndicator, match="line 2") as err:
        ExclusionList.from_lines("bad", "ip", ["8.8.8.8", "not-an-ip-secret-123"])
    assert "secret" not in str(err.value)  # the value is named by its line, never quoted
    with pytest.raises(InvalidParameter):
        ExclusionList("x", "domain", networks=(ipaddress.ip_network("10.0.0.0/8"),))


@given(st.ip_addresses())
def test_reserved_list_agrees_with_the_registry(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    nets = [ipaddress.ip_network(n) for n in RESERVED_NETWORKS]
    canonical = canonicalize("ip", str(ip))  # v4-mapped IPv6 is canonicalized to IPv4 first
    addr = ipaddress.ip_address(canonical)
    inside = any(addr.version == n.version and addr in n for n in nets)
    assert (Exclusions().reason("ip", canonical) is not None) == inside


def test_exclusions_leave_values_out_of_a_set_and_reports_name_them(tmp_path: Path) -> None:
    import blindmatch as bm

    d = tmp_path
    (d / "in.csv").write_text(
        "kind,value\nip,198.51.100.7\nip,8.8.8.8\ndomain,gmail.com\ndomain,evil.example\nip,185.220.101.9\n"
    )
    (d / "tor.txt").write_text("185.220.101.0/24\n")
    plain = bm.IndicatorSet.from_files([d / "in.csv"])
    assert len(plain) == 5 and plain.summary()["exclusions"] == []  # nothing excluded unless asked
    s = bm.IndicatorSet.from_files([d / "in.csv"], exclude=["shipped", f"ip={d / 'tor.txt'}"])
    assert {(k, v) for k in s.kinds for v in s.values(k)} == {("ip", "8.8.8.8"), ("domain", "evil.example")}
    assert s.ignored == {
        "excluded: reserved-and-documentation-addresses": 1,
        "excluded: free-mail-domains": 1,
        "excluded: tor": 1,
    }
    assert s.spec is not None and bm.InputSpec.from_dict(s.spec.to_dict()) == s.spec  # re-read later
    res = bm.psi.run_in_memory(s.psi_items().items, s.psi_items().items, "intersection")[0]
    report = s.report(res).to_dict()
    assert report["matches_are"].startswith("leads")
    assert "free-mail-domains" in report["inputs"]["exclusions"]
    with pytest.raises(InvalidParameter):
        bm.IndicatorSet.from_files([d / "in.csv"], exclude=["nonsense"])
