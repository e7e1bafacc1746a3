"""Canonicalize + token throughput per indicator kind, against a bare ``hmac.digest`` floor.

For each kind, a seeded generator makes 10^5 (quick: 10^4) realistic, mostly unique values (e-mail
addresses over a skewed provider distribution with mixed case and Gmail tags, IPv4 and IPv6 in several
spellings, URLs with paths, queries and escapes, E.164 and national phone numbers, accounts, prompts,
user agents, keys and fingerprints). ``Tokenizer.tokens`` (HMAC-SHA256) is timed on the whole batch, caches
cleared before each repeat, and compared with a floor measured in the same run: a bare ``hmac.digest``
loop over the same canonical byte strings. Goal (issue 2): email and url within 4x the floor, every other
kind within 3x.
"""

from __future__ import annotations

import hmac
import random
import string
from collections.abc import Callable

from benchmarks._common import Table, best_time
from blindmatch.canonical import _domain, canonicalize_many
from blindmatch.tokens import Tokenizer

KEY = bytes(range(32))


def _words(text: str) -> list[str]:
    return text.split()


_FIRST = _words(
    "james mary john patricia robert jennifer michael linda william elizabeth david barbara richard susan "
    "joseph jessica thomas sarah charles karen wei li ana maria jose luis mohammed fatima yuki haruto "
    "olga ivan lena jonas emma noah mia lucas chloe hugo sofia mateo priya arjun aisha omar"
)
_LAST = _words(
    "smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez lopez gonzalez "
    "wilson anderson thomas taylor moore jackson martin lee perez thompson white harris sanchez clark "
    "muller schmidt schneider fischer weber rossi russo kowalski nowak tanaka suzuki kim park chen wang"
)
_WORDS = _words(
    "the of and to in is you that it he was for on are as with his they at be this have from or one had "
    "by word but not what all were we when your can said there use an each which she do how their if will "
    "up other about out many then them these so some her would make like him into time has look two more "
    "write go see number no way could people my than first water been call who oil its now find long down "
    "day did get come made may part ignore previous instructions system prompt reveal secret password "
    "model weights translate summarize explain code python exploit payload bypass filter jailbreak "
    "roleplay pretend"
)
_TLDS = ["com", "com", "com", "net", "org", "io", "co.uk", "de", "fr", "ru", "cn", "info", "xyz", "app"]
_PROVIDERS = [
    ("gmail.com", 30),
    ("yahoo.com", 8),
    ("hotmail.com", 6),
    ("outlook.com", 6),
    ("icloud.com", 4),
    ("protonmail.com", 2),
    ("googlemail.com", 1),
    ("mail.ru", 2),
    ("qq.com", 2),
    ("gmx.de", 1),
    ("yandex.ru", 1),
    ("aol.com", 1),
]


def _case(rng: random.Random, s: str) -> str:
    r = rng.random()
    if r < 0.6:
        return s
    if r < 0.8:
        return s.capitalize()
    if r < 0.9:
        return s.upper()
    return "".join(c.upper() if rng.random() < 0.3 else c for c in s)


def _company_domains(rng: random.Random, n: int) -> list[str]:
    out = []
    for _ in range(n):
        name = (
            rng.choice(_WORDS) + rng.choice(_WORDS) + (str(rng.randrange(99)) if rng.random() < 0.2 else "")
        )
        out.append(f"{name}.{rng.choice(_TLDS)}")
    out += ["b\u00fccher.de", "m\u00fcnchen.de", "\u4f8b\u3048.jp", "caf\u00e9.fr"]  # a few IDNs
    return out


def gen_email(rng: random.Random, n: int) -> list[str]:
    companies = _company_domains(rng, 3000)
    prov, weights = zip(*_PROVIDERS, strict=True)
    out = []
    for _ in range(n):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        sep = rng.choice([".", "", "_", "-", "."])
        local = rng.choice([f"{first}{sep}{last}", f"{first[0]}{last}", f"{first}{rng.randrange(10000)}"])
        local += str(rng.randrange(1000)) if rng.random() < 0.5 else ""
        dom = rng.choices(prov, weights)[0] if rng.random() < 0.7 else rng.choice(companies)
        if dom in ("gmail.com", "googlemail.com") and rng.random() < 0.15:
            local += "+" + rng.choice(_WORDS)
        addr = f"{_case(rng, local)}@{_case(rng, dom)}"
        out.append(f" {addr} " if rng.random() < 0.05 else addr)
    return out


def _ipv6(rng: random.Random) -> str:
    if rng.random() < 0.05:
        return f"::ffff:{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(9)}"
    groups = [0x2001, rng.choice([0xDB8, 0x4860, 0x470, 0x1DF8])] + [rng.randrange(65536) for _ in range(6)]
    if rng.random() < 0.5:
        groups[2:6] = [0, 0, 0, 0] if rng.random() < 0.5 else [rng.randrange(65536), 0, 0, 0]
    style = rng.random()
    if style < 0.4:
        text = ":".join(f"{g:x}" for g in groups)
        text = text.replace(":0:0:0:", "::", 1)
    elif style < 0.7:
        text = ":".join(f"{g:04x}" for g in groups)
    else:
        text = ":".join(f"{g:X}" for g in groups)
    return text


def gen_ip(rng: random.Random, n: int) -> list[str]:
    return [
        f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}"
        if rng.random() < 0.7
        else _ipv6(rng)
        for _ in range(n)
    ]


def gen_cidr(rng: random.Random, n: int) -> list[str]:
    out = []
    for v in gen_ip(rng, n):
        if ":" in v and not v.startswith("::ffff"):
            out.append(f"{v}/{rng.choice([32, 48, 56, 64, 128])}")
        elif ":" in v:
            out.append(f"{v}/{rng.choice([104, 120, 128])}")
        else:
            out.append(f"{v}/{rng.choice([8, 16, 20, 24, 24, 28, 32])}")
    return out


def gen_domain(rng: random.Random, n: int) -> list[str]:
    bases = _company_domains(rng, 5000)
    out = []
    for i in range(n):
        base = rng.choice(bases)
        r = rng.random()
        if r < 0.4:
            name = base
        elif r < 0.8:
            name = f"{rng.choice(_WORDS)}{i}.{base}"
        else:
            name = f"{rng.choice(['www', 'mail', 'cdn', 'api', 'login'])}.{rng.choice(_WORDS)}-{i}.{base}"
        out.append(_case(rng, name) + ("." if rng.random() < 0.03 else ""))
    return out


def gen_url(rng: random.Random, n: int) -> list[str]:
    hosts = gen_domain(rng, 20000)
    out = []
    for _ in range(n):
        scheme = rng.choice(["https", "https", "https", "http", "HTTP"])
        host = rng.choice(hosts).rstrip(".")
        port = rng.choice(["", "", "", "", ":443", ":8080"])
        segs = [
            rng.choice(_WORDS) + (str(rng.randrange(1000)) if rng.random() < 0.3 else "")
            for _ in range(rng.randrange(0, 5))
        ]
        if segs and rng.random() < 0.1:
            segs.insert(1, "..")
        path = "/" + "/".join(segs) if segs or rng.random() < 0.7 else ""
        if rng.random() < 0.1:
            path += "/%7euser/caf%c3%a9"
        query = ""
        if rng.random() < 0.4:
            query = "?" + "&".join(
                f"{rng.choice(_WORDS)}={rng.randrange(10**6)}" for _ in range(rng.randrange(1, 4))
            )
        frag = "#" + rng.choice(_WORDS) if rng.random() < 0.1 else ""
        out.append(f"{scheme}://{host}{port}{path}{query}{frag}")
    return out


def _phone_bases() -> list[tuple[int, str]]:
    import phonenumbers

    bases = []
    for region, weight in (
        ("US", 10),
        ("GB", 3),
        ("DE", 3),
        ("FR", 2),
        ("IN", 4),
        ("BR", 3),
        ("JP", 2),
        ("CA", 2),
        ("AU", 1),
        ("NG", 1),
        ("MX", 1),
        ("ES", 1),
        ("IT", 1),
        ("PL", 1),
    ):
        for t in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE):
            num = phonenumbers.example_number_for_type(region, t)
            if num is not None:
                bases += [(num.country_code, phonenumbers.national_significant_number(num))] * weight
    return bases


def _valid_phone(rng: random.Random, bases: list[tuple[int, str]]) -> tuple[int, str]:
    import phonenumbers

    while True:
        cc, nsn = rng.choice(bases)
        cand = nsn[:-4] + f"{rng.randrange(10000):04d}"
        if phonenumbers.is_valid_number(phonenumbers.PhoneNumber(country_code=cc, national_number=int(cand))):
            return cc, cand


def gen_phone_e164(rng: random.Random, n: int) -> list[str]:
    bases = _phone_bases()
    return [f"+{cc}{nsn}" for cc, nsn in (_valid_phone(rng, bases) for _ in range(n))]


def gen_phone_mixed(rng: random.Random, n: int) -> list[str]:
    """70% E.164, 30% US numbers written nationally (default_region="US") or international with spaces."""
    e164 = gen_phone_e164(rng, n)
    out = []
    for v in e164:
        r = rng.random()
        if r < 0.7:
            out.append(v)
        elif r < 0.85:
            us = (
                f"{rng.choice([212, 415, 646, 312, 617])}{rng.randrange(200, 1000)}{rng.randrange(10000):04d}"
            )
            out.append(f"({us[:3]}) {us[3:6]}-{us[6:]}")
        else:
            out.append(f"{v[:3]} {v[3:6]} {v[6:]}")
    return out


def gen_account(rng: random.Random, n: int) -> list[str]:
    platforms = ["github", "GitHub", "x.com", "discord", "telegram", "reddit", "openai", "slack", "twitch"]
    return [
        f"{rng.choice(platforms)}:{_case(rng, rng.choice(_FIRST))}{rng.choice(['', '_', '.'])}"
        f"{rng.choice(_LAST)}{rng.randrange(100000)}"
        for _ in range(n)
    ]


def gen_asn(rng: random.Random, n: int) -> list[str]:
    forms = ["AS{}", "as{}", "{}", "AS {}", "ASN{}"]
    return [
        rng.choice(forms).format(rng.choice([rng.randrange(1, 65536), rng.randrange(1, 1 << 32)]))
        for _ in range(n)
    ]


def gen_prompt(rng: random.Random, n: int) -> list[str]:
    accents = ["caf\u00e9", "na\u00efve", "Stra\u00dfe", "\uff21\uff29", "\u0130stanbul", "r\u00e9sum\u00e9"]
    out = []
    for _ in range(n):
        words = [_case(rng, rng.choice(_WORDS)) for _ in range(rng.randrange(8, 40))]
        if rng.random() < 0.05:
            words.insert(rng.randrange(len(words)), rng.choice(accents))
        out.append(" ".join(words).replace(" ", "  ", rng.randrange(2)) + rng.choice(["", "?", ".", "\n"]))
    return out


def gen_user_agent(rng: random.Random, n: int) -> list[str]:
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.6:
            system = rng.choice(
                ["Windows NT 10.0; Win64; x64", "Macintosh; Intel Mac OS X 10_15_7", "X11; Linux"]
            )
            chrome = f"{rng.randrange(100, 131)}.0.{rng.randrange(7000)}.{rng.randrange(200)}"
            out.append(
                f"Mozilla/5.0 ({system}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{chrome} Safari/537.36"
            )
        elif r < 0.8:
            out.append(f"python-requests/2.{rng.randrange(20, 33)}.{rng.randrange(5)}")
        else:
            out.append(f"curl/{rng.randrange(7, 9)}.{rng.randrange(90)}.{rng.randrange(5)}")
    return out


def _token62(rng: random.Random, k: int) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(k))


def gen_api_key(rng: random.Random, n: int) -> list[str]:
    return [rng.choice(["sk-proj-", "sk-ant-api03-", "AKIA", "ghp_"]) + _token62(rng, 40) for _ in range(n)]


def gen_payment(rng: random.Random, n: int) -> list[str]:
    return ["fp_" + _token62(rng, 16) for _ in range(n)]


def gen_device(rng: random.Random, n: int) -> list[str]:
    return [f"{rng.getrandbits(128):032x}" for _ in range(n)]


def gen_text(rng: random.Random, n: int) -> list[str]:
    return [" ".join(rng.choice(_WORDS) for _ in range(rng.randrange(1, 6))) for _ in range(n)]


GOALS = {"email": 4.0, "url": 4.0}
# (row label, kind, generator, default_region)
CASES: list[tuple[str, str, Callable[[random.Random, int], list[str]], str | None]] = [
    ("email", "email", gen_email, None),
    ("ip", "ip", gen_ip, None),
    ("cidr", "cidr", gen_cidr, None),
    ("domain", "domain", gen_domain, None),
    ("url", "url", gen_url, None),
    ("phone (E.164 input)", "phone", gen_phone_e164, None),
    ("phone (30% national/spaced)", "phone", gen_phone_mixed, "US"),
    ("account", "account", gen_account, None),
    ("asn", "asn", gen_asn, None),
    ("prompt", "prompt", gen_prompt, None),
    ("user-agent", "user-agent", gen_user_agent, None),
    ("api-key", "api-key", gen_api_key, None),
    ("payment-fingerprint", "payment-fingerprint", gen_payment, None),
    ("device-fingerprint", "device-fingerprint", gen_device, None),
    ("text", "text", gen_text, None),
]


def _clear_caches() -> None:
    _domain.domain_to_ascii.cache_clear()


def run(quick: bool) -> list[Table]:
    n = 10_000 if quick else 100_000
    repeat = 3 if quick else 5
    tok = Tokenizer(KEY)
    table = Table(
        f"Canonicalize + token per kind ({n:,} values each, HMAC-SHA256)",
        ["kind", "items/s", "us/item", "floor us/item", "ratio to floor", "goal", "met?"],
    )
    all_bytes: list[bytes] = []
    rows = []
    for label, kind, gen, region in CASES:
        values = gen(random.Random(f"blindmatch-bench-{label}"), n)
        batch = canonicalize_many(kind, values, errors="skip", default_region=region)
        if batch.skipped:
            table.notes.append(f"{label}: generator produced {batch.skipped} invalid values (skipped)")
        data = [c.encode("utf-8") for c in batch.values]
        all_bytes += data
        sk = tok.subkey(kind)

        def floor(data: list[bytes] = data, sk: bytes = sk) -> None:
            digest = hmac.digest
            for b in data:
                digest(sk, b, "sha256")

        def full(kind: str = kind, values: list[str] = values, region: str | None = region) -> None:
            _clear_caches()
            tok.tokens(kind, values, errors="skip", default_region=region)

        # interleave floor and full runs so that CPU contention hits both alike; keep the best of each
        t_floor = t_full = float("inf")
        for _ in range(repeat):
            t_floor = min(t_floor, best_time(floor, repeat=1) / n)
            t_full = min(t_full, best_time(full, repeat=1) / n)
        ratio = t_full / t_floor
        goal = GOALS.get(kind, 3.0)
        met = "yes" if ratio <= goal else "NO"
        rows.append((label, 1 / t_full, t_full * 1e6, t_floor * 1e6, ratio, f"<= {goal:g}x", met))
    sk = tok.subkey("text")

    def floor_all() -> None:
        for b in all_bytes:
            hmac.digest(sk, b, "sha256")

    t = best_time(floor_all, repeat=repeat) / len(all_bytes)
    table.add("floor: bare hmac.digest (all kinds' bytes)", 1 / t, t * 1e6, t * 1e6, 1.0, "", "")
    for row in rows:
        table.add(*row)
    table.notes.append(
        "floor us/item: a bare hmac.digest loop over the same kind's canonical byte strings, same run; "
        "ratio = us/item / floor. Domain caches are cleared before every timed repeat."
    )
    return [table]
