"""blindmatch benchmarks: run with ``make bench`` (full) or ``make bench-quick``."""
