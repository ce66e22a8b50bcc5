"""``python -m bench [name ...]``: run the benchmarks (all by default) against the real services."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = ("relay", "flash_sale")


def main() -> None:
    names = sys.argv[1:2] or list(BENCHMARKS)
    rest = sys.argv[2:]
    for name in names:
        if name not in BENCHMARKS:
            sys.exit(f"unknown benchmark {name!r}; choose from {', '.join(BENCHMARKS)}")
        print(f"## {name}\n")
        importlib.import_module(f"bench.{name}").main(rest)
        print()


if __name__ == "__main__":
    main()
