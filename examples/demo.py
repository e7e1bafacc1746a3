"""Placeholder demo (replaced by the two-lab exchange): canonicalize and tokenize example indicators."""

from __future__ import annotations

import collections
import csv
import sys
from pathlib import Path

import blindmatch

HERE = Path(__file__).resolve().parent


def main() -> int:
    path = HERE / "data" / "lab_a.csv"
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    tok = blindmatch.Tokenizer(b"demo key: never use a fixed key!", context=b"demo")
    per_kind: dict[str, list[str]] = collections.defaultdict(list)
    for row in rows:
        per_kind[row["kind"]].append(row["value"])
    print(f"blindmatch {blindmatch.__version__}, canon v{blindmatch.CANON_VERSION}, key id {tok.key_id}")
    for kind, values in sorted(per_kind.items()):
        batch = tok.tokens(kind, values, errors="skip")
        print(f"  {kind:20s} {len(values):6d} read  {len(batch):6d} tokens  {batch.skipped:4d} skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
