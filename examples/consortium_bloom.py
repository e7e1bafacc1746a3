"""Consortium Bloom-filter example: lab A publishes a filter of keyed tokens; lab B checks against it.

    .venv/bin/python examples/consortium_bloom.py

Every member of the sharing group holds the same token key. Lab A canonicalizes and tokenizes its
indicators, builds a filter and writes one exchange file (the key is not in it); lab B checks its own
indicators and gets *candidates*: probably shared, each false with the filter's false-positive rate.

What this protects: the file tells outsiders (who lack the key) nothing useful. What it does not: any key
holder can test any guess against the file offline (every IPv4 address, every e-mail of a leaked list).
Between two labs that must reveal nothing else to each other, confirm candidates with the PSI
(file_exchange.sh, tcp_exchange.sh) or use the PSI instead. See docs/bloom-exchange.md.

The same with the command line, for one kind::

    blindmatch keygen --token group.key
    blindmatch bloom create lab_a.bloom -n 10000 --key-file group.key --kind email
    cut -d, -f2 emails.csv | blindmatch bloom insert lab_a.bloom --key-file group.key --kind email
    blindmatch bloom check lab_a.bloom --key-file group.key --kind email < our_emails.txt
"""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path

from blindmatch import IndicatorSet, indicator_item
from blindmatch.bloom import ExchangeFile, build_exchange
from blindmatch.tokens import Tokenizer

DATA = Path(__file__).resolve().parent / "data"


def read_lab(path: Path) -> IndicatorSet:
    """A lab's distinct canonical indicators (invalid rows counted and left out)."""
    return IndicatorSet.from_files([path], errors="skip")


def main() -> None:
    group_key = secrets.token_bytes(32)  # in real life: made once, shared among members out of band
    context = b"example-group/2026q4"

    # Lab A: build and publish.
    tok_a = Tokenizer(group_key, context=context)
    exchange = build_exchange(tok_a, read_lab(DATA / "lab_a.csv").items_by_kind(), fpr=1e-6,
                              description="lab A indicators, example")  # fmt: skip
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "lab_a.bmx.gz"
        exchange.save(path)
        print(f"lab A wrote {path.name}: {path.stat().st_size} bytes, {len(exchange.filter)} tokens, "
              f"key id {exchange.key_id}, kinds {', '.join(exchange.kinds)}")  # fmt: skip

        # Lab B: load and check its own indicators with the same key.
        received = ExchangeFile.load(path)
        tok_b = Tokenizer(group_key, context=context)
        lab_b = read_lab(DATA / "lab_b.csv")
        results = received.check_many(tok_b, lab_b.items_by_kind())
    # back to lab B's rows: the set maps each candidate to every row that gave it
    found = lab_b.matches([indicator_item(k, c.value) for k, r in results.items() for c in r.candidates])
    rows = sum(len(m.origins) for m in found.exact)
    print(f"lab B: {len(found.exact)} candidate indicators in {rows} candidate rows (probably shared), fpr "
          f"{received.false_positive_rate:.2g}")  # fmt: skip
    for kind, r in sorted(results.items()):
        print(f"  {kind:20s} {len(r.candidates):4d} of {r.checked:5d} checked "
              f"(expected false positives {r.expected_false_positives:.1e})")  # fmt: skip
    print("Confirm candidates with the PSI before acting on them; every key holder can test guesses offline.")


if __name__ == "__main__":
    main()
