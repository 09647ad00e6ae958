"""How fast `sitewatch --help` and `sitewatch --version` answer, against a bare `python -c pass`.

Each is started as a fresh process `--repeat` times in one run; the medians and the ratio
are printed. The target is 0.5 s on 2 cores: the commands import the imaging stack only
when they run, never to build the help.

    python bench/startup.py --repeat 10
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def median_seconds(command: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    python = [sys.executable]
    reference = median_seconds([*python, "-c", "pass"], args.repeat)
    print(f"python -c pass        {reference:.3f} s (reference)")
    for flag in ("--help", "--version"):
        seconds = median_seconds([*python, "-m", "sitewatch", flag], args.repeat)
        verdict = "ok" if seconds <= 0.5 else "ABOVE the 0.5 s target"
        print(f"sitewatch {flag:<11} {seconds:.3f} s ({seconds / reference:.1f}x the reference; {verdict})")


if __name__ == "__main__":
    main()
