"""How close does each schedule get to its limit in 1 s and in 5 s of wall time?

For FC depth 3, conv depth 2 and diagonal depth 2 on several seeded Gaussian data
sets (D = 16, N = 8) this prints the angle (degrees) between GD's predictor and the
reference the theorem points to, after 1 s and 5 s, for the constant, angular and
normalized schedules; and, for every run, the `polish`ed certificate of its final
direction (residual, moved_deg, off-support for p = 1). Conv depth 3 has no convex
reference (the l_{2/3} problem is non-convex): only its certificate is reported.

Run:  .venv/bin/python benchmarks/convergence.py [--seconds 5] [--seeds 0 1 2]
The numbers and the machine go into benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

os.environ.setdefault("IBCORE_PROGRESS", "0")

import ibcore  # noqa: E402
from ibcore.data import gaussian  # noqa: E402
from ibcore.limits import hard_margin_svm, min_fourier_l1_margin, min_l1_margin, polish  # noqa: E402
from ibcore.nets import Convolutional, Diagonal, FullyConnected  # noqa: E402
from ibcore.train import gradient_descent  # noqa: E402

DIM, N = 16, 8
# (name, net, reference, p, domain); p = 2/L
PROBLEMS = [
    ("FC L=3", FullyConnected(DIM, 3), hard_margin_svm, 2.0, "time"),
    ("conv L=2", Convolutional(DIM, 2), min_fourier_l1_margin, 1.0, "fourier"),
    ("diag L=2", Diagonal(DIM, 2), min_l1_margin, 1.0, "time"),
    ("conv L=3", Convolutional(DIM, 3), None, 2.0 / 3.0, "fourier"),
]
SCHEDULES = {"constant": dict(lr=0.05), "angular": dict(lr=0.05, T=2000.0), "normalized": dict(lr=0.2)}


def steps_per_second(net, X, y, schedule, kw) -> float:
    t0 = time.perf_counter()
    gradient_descent(net, X, y, steps=300, schedule=schedule, init=1, **kw)
    return 300 / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"D={DIM}, N={N}; angle in degrees to the reference after 1 s and {args.seconds:g} s; polished certificate of the final direction")
    header = f"{'problem':10} {'seed':>4} {'schedule':>10} {'steps':>7} {'@1s':>9} {'@' + format(args.seconds, 'g') + 's':>9}  {'residual':>9} {'moved':>7} {'certified':>9}"
    print(header)
    print("-" * len(header))
    for name, net, ref_fn, p, domain in PROBLEMS:
        for seed in args.seeds:
            X, y = gaussian(N, DIM, seed=seed)
            ref = ref_fn(X, y).beta if ref_fn is not None else None
            for schedule, kw in SCHEDULES.items():
                rate = steps_per_second(net, X, y, schedule, kw)
                steps = max(10, int(rate * args.seconds))
                one = max(1, int(rate * 1.0))
                r = gradient_descent(net, X, y, steps=steps, schedule=schedule, init=1, record=np.array([one, steps]), **kw)
                h = r.history
                at = lambda it: h["beta"][np.flatnonzero(h["iteration"] == it)[0]]  # noqa: E731
                if ref is not None:
                    a1, a5 = ibcore.angle(at(one), ref), ibcore.angle(at(steps), ref)
                    angles = f"{a1:9.4f} {a5:9.4f}"
                else:
                    angles = f"{'-':>9} {'-':>9}"
                try:
                    pol = polish(r.beta, X, y, p, domain)
                    cert = f"{pol.residual:9.1e} {pol.moved_deg:7.3f} {str(pol.certified()):>9}"
                except Exception as exc:  # report, don't hide
                    cert = f"polish failed: {type(exc).__name__}: {exc}"[:40]
                print(f"{name:10} {seed:4d} {schedule:>10} {steps:7d} {angles}  {cert}", flush=True)


if __name__ == "__main__":
    main()
