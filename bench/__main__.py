"""``python -m bench [name [options]]``: run benchmarks against the real services (by default all but versus)."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = ("relay", "flash_sale", "waiting_room")
# Run only when named: it installs and runs pretix beside TicketFlow (make bench-pretix).
ON_REQUEST = ("versus",)


def main() -> None:
    names = sys.argv[1:2] or list(BENCHMARKS)
    rest = sys.argv[2:]
    for name in names:
        if name not in BENCHMARKS + ON_REQUEST:
            sys.exit(f"unknown benchmark {name!r}; choose from {', '.join(BENCHMARKS + ON_REQUEST)}")
        print(f"## {name}\n")
        importlib.import_module(f"bench.{name}").main(rest)
        print()


if __name__ == "__main__":
    main()
