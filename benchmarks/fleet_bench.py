"""How long ``tvwizard fleet`` takes to aggregate N real-sized reports (the target: 1,000 in < 2 s).

    .venv/bin/python benchmarks/fleet_bench.py [N] [--repeat R] [--keep DIR]

Writes N varied reports (from the real templates in tests/fast/data, about 150 KB each,
2-space indented like `tvwizard report` writes them) into a temporary folder, then times
``tvwizard.fleet.aggregate`` R times (the first run reads the files from the page cache the
writing just filled; drop caches yourself for a cold-disk number) and the whole CLI once.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "fast"))

from test_fleet import write_fleet  # noqa: E402

from tvwizard.fleet import aggregate  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", nargs="?", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", metavar="DIR", help="write the reports here and keep them")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp) / "reports"
        t0 = time.perf_counter()
        write_fleet(folder, args.n)
        size = sum(p.stat().st_size for p in folder.iterdir())
        print(f"wrote {args.n} reports, {size / 1e6:.0f} MB, in {time.perf_counter() - t0:.2f} s: {folder}")
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            summary = aggregate([folder])
            times.append(time.perf_counter() - t)
        assert len(summary.hosts) == args.n, summary.skipped[:3]
        print(
            f"aggregate(): best {min(times):.3f} s, median {statistics.median(times):.3f} s, worst {max(times):.3f} s"
        )
        print(f"  {summary.headline()[:150]}")
        cli = [sys.executable, "-m", "tvwizard", "fleet", str(folder)]
        t = time.perf_counter()
        rc = subprocess.run(cli, stdout=subprocess.DEVNULL, check=False).returncode
        print(f"tvwizard fleet (whole CLI, new process): {time.perf_counter() - t:.3f} s, exit {rc}")
        t = time.perf_counter()
        subprocess.run([*cli[:-1], "--json", str(folder)], stdout=subprocess.DEVNULL, check=False)
        print(f"tvwizard fleet --json (whole CLI): {time.perf_counter() - t:.3f} s")
    return 0 if max(times) < 2.0 else 1


if __name__ == "__main__":
    sys.exit(main())
