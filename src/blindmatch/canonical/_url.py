"""Rule for ``url``: RFC 3986 s.6.2.2 syntax-based normalization (plus the default port, s.6.2.3).

Scheme and host are lowercased (the host through IDNA), percent-escapes of unreserved characters are
decoded and the remaining escapes uppercased, dot segments are removed, an empty path with an authority
becomes ``/``, the default port and the fragment are dropped. Characters a URI may not contain (non-ASCII
text of an IRI, ``"<>\\^`{|}``...) are percent-encoded as UTF-8 after NFC (the RFC 3987 s.3.1 mapping).
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

from ..errors import InvalidIndicator
from ._domain import DomainError, domain_to_ascii
from ._net import format_ipv4, format_ipv6, parse_ip

if TYPE_CHECKING:
    from ._rules import Options

__all__ = ["url"]

MAX_URL = 8192  # characters, input and output alike

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21}
_NEEDS_HOST = frozenset(_DEFAULT_PORTS)

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_SUB_DELIMS = "!$&'()*+,;="
# Characters each component may hold as they are (RFC 3986 s.3.2.1, 3.3, 3.4); "%" starts an escape.
_USERINFO_OK = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:]*")
_PATH_OK = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/]*")
_QUERY_OK = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/?]*")
_USERINFO_TOKEN = re.compile(r"%[0-9A-Fa-f]{2}|%|[^A-Za-z0-9\-._~!$&'()*+,;=:]")
_PATH_TOKEN = re.compile(r"%[0-9A-Fa-f]{2}|%|[^A-Za-z0-9\-._~!$&'()*+,;=:@/]")
_QUERY_TOKEN = re.compile(r"%[0-9A-Fa-f]{2}|%|[^A-Za-z0-9\-._~!$&'()*+,;=:@/?]")
_PORT = re.compile(r"[0-9]*")
_SPECIAL_IN_AUTHORITY = re.compile(r"[@:\[\]%]")


def _fail(reason: str) -> InvalidIndicator:
    return InvalidIndicator("url", reason)


def _fix_token(m: re.Match[str]) -> str:
    tok = m.group()
    if tok[0] == "%":
        if len(tok) == 1:
            raise _fail("'%' not followed by two hex digits")
        ch = chr(int(tok[1:], 16))
        return ch if ch in _UNRESERVED else tok.upper()
    cat = unicodedata.category(tok)
    if cat[0] == "Z" or cat in ("Cc", "Cs"):
        raise _fail("whitespace or control character")
    return "".join(f"%{b:02X}" for b in tok.encode("utf-8"))


def _normalize_component(text: str, ok: re.Pattern[str], token: re.Pattern[str]) -> str:
    if ok.fullmatch(text) is not None:
        return text
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    return token.sub(_fix_token, text)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 s.5.2.4 for an absolute path (one that starts with "/")."""
    if "/." not in path:  # every dot segment of an absolute path follows a "/"
        return path
    segs = path[1:].split("/")
    out: list[str] = []
    last = len(segs) - 1
    for i, seg in enumerate(segs):
        if seg == ".":
            if i == last:
                out.append("")
        elif seg == "..":
            if out:
                out.pop()
            if i == last:
                out.append("")
        else:
            out.append(seg)
    return "/" + "/".join(out)


def _host(scheme: str, host: str) -> str:
    if host.startswith("["):
        if not host.endswith("]"):
            raise _fail("unterminated IP literal")
        try:
            version, n = parse_ip("url", host[1:-1])
        except InvalidIndicator as exc:
            raise _fail(f"IP literal: {exc.reason}") from None
        if version != 6:
            raise _fail("IP literal: not an IPv6 address")
        if n >> 32 == 0xFFFF:  # RFC 5952 s.5: mixed notation for IPv4-mapped addresses
            return f"[::ffff:{format_ipv4(n & 0xFFFFFFFF)}]"
        return f"[{format_ipv6(n)}]"
    if not host:
        if scheme in _NEEDS_HOST:
            raise _fail("empty host")
        return ""
    if "%" in host:
        raise _fail("percent-encoded host")
    try:
        return domain_to_ascii(host)
    except DomainError as exc:
        raise _fail(f"host: {exc.reason}") from None


def _authority(scheme: str, authority: str) -> str:
    if authority and _SPECIAL_IN_AUTHORITY.search(authority) is None:  # just a host name: the common case
        try:
            return domain_to_ascii(authority)
        except DomainError as exc:
            raise _fail(f"host: {exc.reason}") from None
    userinfo, at, hostport = authority.rpartition("@")
    if hostport.startswith("["):
        close = hostport.find("]")
        if close < 0:
            raise _fail("unterminated IP literal")
        host, rest = hostport[: close + 1], hostport[close + 1 :]
        if rest and not rest.startswith(":"):
            raise _fail("junk after IP literal")
        port = rest[1:]
        has_port = bool(rest)
    else:
        host, colon, port = hostport.partition(":")
        has_port = bool(colon)
    out = _host(scheme, host)
    if has_port and port:
        if _PORT.fullmatch(port) is None:
            raise _fail("port is not a number")
        digits = port.lstrip("0") or "0"
        if len(digits) > 5 or int(digits) > 65535:
            raise _fail("port above 65535")
        num = int(digits)
        if _DEFAULT_PORTS.get(scheme) != num:
            out = f"{out}:{num}"
    if at:
        out = _normalize_component(userinfo, _USERINFO_OK, _USERINFO_TOKEN) + "@" + out
    return out


def url(value: str, _opts: Options) -> str:
    """``url``: see docs/canonicalization.md."""
    if len(value) > MAX_URL:
        raise _fail("too long")
    text = value.strip()
    if not text:
        raise _fail("empty")
    m = _SCHEME.match(text)
    if m is None:
        raise _fail("relative URL (no scheme)")
    scheme = m.group()[:-1].lower()
    rest = text[m.end() :]
    hash_at = rest.find("#")
    if hash_at >= 0:
        rest = rest[:hash_at]
    hier, qmark, query = rest.partition("?")
    if hier.startswith("//"):
        slash = hier.find("/", 2)
        if slash < 0:
            slash = len(hier)
        auth = "//" + _authority(scheme, hier[2:slash])
        path = _normalize_component(hier[slash:], _PATH_OK, _PATH_TOKEN)
        path = _remove_dot_segments(path) if path else "/"
    else:
        auth = ""
        path = _normalize_component(hier, _PATH_OK, _PATH_TOKEN)
        if path.startswith("/"):
            path = _remove_dot_segments(path)
            if path.startswith("//"):
                raise _fail("path starts with '//' but there is no authority")
    out = f"{scheme}:{auth}{path}"
    if qmark:
        out = f"{out}?{_normalize_component(query, _QUERY_OK, _QUERY_TOKEN)}"
    if len(out) > MAX_URL:
        raise _fail("too long")
    return out
