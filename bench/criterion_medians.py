#!/usr/bin/env python3
"""Prints the median of every criterion benchmark from target/criterion (after `cargo bench`).

Usage: python3 bench/criterion_medians.py [target/criterion]
"""

import json
import sys
from pathlib import Path


def fmt(ns: float) -> str:
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.1f} ns"


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")
    rows = []
    for estimates in sorted(root.glob("*/*/new/estimates.json")):
        data = json.loads(estimates.read_text())
        bench = f"{estimates.parts[-4]}/{estimates.parts[-3]}"
        median = data["median"]
        rows.append((bench, median["point_estimate"],
                     median["confidence_interval"]["lower_bound"],
                     median["confidence_interval"]["upper_bound"]))
    if not rows:
        sys.exit(f"no criterion results under {root}: run cargo bench first")
    width = max(len(row[0]) for row in rows)
    print(f"{'benchmark':<{width}}  {'median':>10}  95% CI of the median")
    for bench, point, low, high in rows:
        print(f"{bench:<{width}}  {fmt(point):>10}  [{fmt(low)} .. {fmt(high)}]")


if __name__ == "__main__":
    main()
