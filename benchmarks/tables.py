"""Render throughput.json as the markdown tables of benchmarks/README.md.

Run:  .venv/bin/python benchmarks/tables.py [benchmarks/throughput.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def ratio(row: dict, key: str) -> str:
    return f"{row[key] / row['ibcore']:.2f}" if key in row else "-"


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "throughput.json"
    data = json.loads(path.read_text())
    print(f"machine: {data['machine']}; {data['load_end']} at the end\n")
    # (the JSON also holds each row's process CPU time; see README.md for why the tables leave it out)
    print("| net | D | L | B | µs / step | (init × step) / s | dense / ibcore | torch / ibcore |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in data["rows"]:
        print(f"| {r['kind']} | {r['dim']} | {r['depth']} | {r['batch']} | {r['ibcore'] * 1e6:.1f} | {r['batch'] / r['ibcore']:.3g} "
              f"| {ratio(r, 'dense')} | {ratio(r, 'torch')} |")
    print("\n| net | L | B | exponent of predictor + vjp | exponent of the whole step | predictor + vjp, µs at each D |")
    print("|---|---:|---:|---:|---:|---|")
    for e in data["exponents"]:
        pv = ", ".join(f"{d}: {t * 1e6:.0f}" for d, t in zip(e["dims"], e["predictor_vjp"]))
        print(f"| {e['kind']} | {e['depth']} | {e['batch']} | {e['exponent_pv']:.2f} | {e['exponent_step']:.2f} | {pv} |")
    print("\n| B | ibcore µs / step | torch, default threads | torch, 1 thread | faster torch / ibcore | target |")
    print("|---:|---:|---:|---:|---:|---|")
    for t in data["target"]:
        if "torch" in t:
            best = min(t["torch"], t["torch_1thread"]) / t["ibcore"]
            print(f"| {t['batch']} | {t['ibcore'] * 1e6:.1f} | {t['torch'] * 1e6:.1f} | {t['torch_1thread'] * 1e6:.1f} | {best:.2f} "
                  f"| ≥ {t['goal']:g}: {'met' if best >= t['goal'] else 'not met'} |")


if __name__ == "__main__":
    main()
