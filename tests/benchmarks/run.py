"""Run every benchmark of the project and print one table.

    python -m tests.benchmarks.run [--only NAME ...] [--quick] [--json FILE]

Starts one SeaweedFS and one Data Manager server on free loopback ports, runs each
``tests/benchmarks/bench_*.py`` module's ``run(ctx)``, and prints our figures next to rclone's,
measured in the same run on the same store.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import tempfile
import traceback
from dataclasses import asdict
from pathlib import Path

from tests.benchmarks.harness import BenchResult, bench_context, format_table

HERE = Path(__file__).parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", nargs="*", help="module names, e.g. bench_transfer")
    parser.add_argument("--quick", action="store_true", help="smaller sizes (smoke run)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    args = parser.parse_args(argv)
    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if args.only:
        names = [n for n in names if n in args.only or n.removeprefix("bench_") in args.only]
    results: list[BenchResult] = []
    failed = []
    with tempfile.TemporaryDirectory(prefix="gsbench-") as tmp, bench_context(Path(tmp), args.quick) as ctx:
        for name in names:
            print(f"== {name}", file=sys.stderr, flush=True)
            try:
                module = importlib.import_module(f"tests.benchmarks.{name}")
                got = module.run(ctx)
                results.extend(got)
                print(format_table(got), file=sys.stderr, flush=True)
            except Exception:
                failed.append(name)
                traceback.print_exc()
    print(format_table(results))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) | {"ratio": r.ratio} for r in results], indent=2))
    if failed:
        print(f"benchmarks that failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
