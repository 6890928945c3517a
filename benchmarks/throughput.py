"""How many (initialization x step)s per second does ibcore's gradient descent take?

For FC, diagonal and conv nets at D in {16, 64, 256, 1024}, N = D/2, L in {2, 3, 4} and
B in {1, 16, 256} initializations this times one 300-step ``gradient_descent`` call
(input validation, separability check and records included), median of 5 calls,
divided by 300, and runs the same problems

- with the layers as explicit matrices (``dense_reference.py``: circulant or diagonal
  D x D matrices, the same engine), and
- with PyTorch autograd in float64 (``torch_reference.py``), when torch is importable,

printing the times side by side as ratios (> 1: ibcore is faster).  It then measures
the growth exponent in D of ``predictor`` + ``vjp`` (the public calls) and of the
whole step, and times the issue's target problem (conv, D = 32, N = 16, L = 3, B = 1
and 256) against PyTorch.  The step is the angular schedule (lr 0.05, T = 1000):
the same map in all three implementations, and one that never diverges from a random
start.  Configurations whose parameters would not fit comfortably in memory are
skipped ("-"): B * P > 2^22 for ibcore and PyTorch, B * L * D^2 > 2^22 for the
dense matrices.

Run:   .venv/bin/python benchmarks/throughput.py [--quick] [--no-torch] [--no-dense]
Writes benchmarks/throughput.json and benchmarks/throughput.png; the tables go into
benchmarks/README.md with the machine line and the load printed here.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("IBCORE_PROGRESS", "0")
# One BLAS thread, as in the Makefile's book build and tests: on a shared 2-core machine
# OpenBLAS's second thread turns even a 128 x 128 solve from 0.2 ms into 200 ms under load
# (it waits for a core that another process holds).  Set it to 2 to measure both cores.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import describe, load  # noqa: E402
from dense_reference import DenseConvolutional, DenseDiagonal, check  # noqa: E402

from ibcore.data import gaussian  # noqa: E402
from ibcore.nets import Convolutional, Diagonal, FullyConnected  # noqa: E402
from ibcore.train import gradient_descent  # noqa: E402

try:
    import torch

    import torch_reference
except ImportError:  # optional: the comparison column is left out
    torch = None

HERE = Path(__file__).resolve().parent
KINDS = {"fc": FullyConnected, "diag": Diagonal, "conv": Convolutional}
DENSE = {"diag": DenseDiagonal, "conv": DenseConvolutional}
STEPS, RUNS = 300, 5
LR, T = 0.05, 1000.0
MAX_ENTRIES = 2**22  # doubles in one copy of the batch's parameters (32 MB)
DENSE_MAX_DIM = 256  # the dense matrices at D = 1024 take minutes per configuration


def median_steps(fns: dict, runs: int = RUNS) -> tuple[dict, dict]:
    """Median wall and CPU seconds per step of each ``fns[name]()`` (one call = STEPS steps).

    The implementations take turns, run by run, so that they share whatever load the
    machine has while they are timed: their ratios are fairer than their absolute times.
    The CPU time (of this process) is a second, load-insensitive view when every
    library runs on one thread.
    """
    wall, cpu = {k: [] for k in fns}, {k: [] for k in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    med = lambda d: {k: float(np.median(v)) / STEPS for k, v in d.items()}  # noqa: E731
    return med(wall), med(cpu)


def median_step(fn, runs: int = RUNS) -> float:
    """Median wall seconds per step of ``fn`` alone."""
    return median_steps({"fn": fn}, runs)[0]["fn"]


def problem(kind: str, dim: int, depth: int, batch: int):
    net = KINDS[kind](dim, depth)
    X, y = gaussian(dim // 2, dim, seed=0)
    init = net.init(1) if batch == 1 else net.init(1, batch=batch)
    return net, X, y, init


def ibcore_call(net, X, y, init):
    return lambda: gradient_descent(net, X, y, steps=STEPS, lr=LR, schedule="angular", T=T, init=init, record=20)


def torch_call(kind, net, X, y, init):
    w0 = np.atleast_2d(init)
    return lambda: torch_reference.run(kind, net.dim, net.depth, X, y, w0, STEPS, lr=LR, T=T)


def time_ibcore(net, X, y, init) -> float:
    return median_step(ibcore_call(net, X, y, init))


def time_torch(kind, net, X, y, init) -> float:
    return median_step(torch_call(kind, net, X, y, init))


def throughput_table(dims, depths, batches, use_dense, use_torch) -> list[dict]:
    rows = []
    head = (f"{'net':5} {'D':>5} {'L':>2} {'B':>4} {'us/step':>10} {'init*step/s':>12} {'dense/ib':>9} {'torch/ib':>9}"
            f" {'cpu us':>9} {'cpu dense/ib':>12} {'cpu torch/ib':>12}")
    print(head)
    print("-" * len(head))
    for kind in KINDS:
        for depth in depths:
            for dim in dims:
                for batch in batches:
                    net, X, y, init = problem(kind, dim, depth, batch)
                    if batch * net.n_params > MAX_ENTRIES:
                        continue
                    fns = {"ibcore": ibcore_call(net, X, y, init)}
                    if use_dense and kind in DENSE and dim <= DENSE_MAX_DIM and batch * depth * dim * dim <= MAX_ENTRIES:
                        fns["dense"] = ibcore_call(DENSE[kind](dim, depth), X, y, init)
                    if use_torch:
                        fns["torch"] = torch_call(kind, net, X, y, init)
                    wall, cpu = median_steps(fns)
                    row = dict(kind=kind, dim=dim, depth=depth, batch=batch, **wall, cpu={k: v for k, v in cpu.items()})
                    rows.append(row)
                    ratio = lambda d, k, w=9: f"{d[k] / d['ibcore']:{w}.2f}" if k in d else f"{'-':>{w}}"  # noqa: E731
                    print(f"{kind:5} {dim:5d} {depth:2d} {batch:4d} {row['ibcore'] * 1e6:10.1f} "
                          f"{batch / row['ibcore']:12.3g} {ratio(wall, 'dense')} {ratio(wall, 'torch')}"
                          f" {cpu['ibcore'] * 1e6:9.1f} {ratio(cpu, 'dense', 12)} {ratio(cpu, 'torch', 12)}", flush=True)
    return rows


def predictor_vjp_time(net, batch: int) -> float:
    """Median seconds of ``net.predictor(W)`` + ``net.vjp(W, G)`` (the public, validated calls)."""
    W = net.init(0) if batch == 1 else net.init(0, batch=batch)
    G = np.random.default_rng(0).standard_normal(net.dim if batch == 1 else (batch, net.dim))
    n = max(5, int(20000 / (batch * net.n_params) ** 0.8))
    times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        for _ in range(n):
            net.predictor(W)
            net.vjp(W, G)
        times.append((time.perf_counter() - t0) / n)
    return float(np.median(times))


def slope(dims, times) -> float:
    return float(np.polyfit(np.log(dims), np.log(times), 1)[0])


def exponent_table(dims, depths, batches, rows) -> list[dict]:
    print(f"\ngrowth exponent in D (least-squares slope of log time on log D over D = {list(dims)})")
    head = f"{'net':5} {'L':>2} {'B':>4} {'predictor+vjp':>14} {'whole step':>11}   predictor+vjp us at each D"
    print(head)
    print("-" * len(head))
    out = []
    for kind in KINDS:
        for depth in depths:
            for batch in batches:
                ds = [d for d in dims if batch * KINDS[kind](d, depth).n_params <= MAX_ENTRIES]
                if len(ds) < 2:
                    continue
                pv = [predictor_vjp_time(KINDS[kind](d, depth), batch) for d in ds]
                steps = [r["ibcore"] for d in ds for r in rows
                         if (r["kind"], r["dim"], r["depth"], r["batch"]) == (kind, d, depth, batch)]
                e_step = slope(ds, steps) if len(steps) == len(ds) else float("nan")
                out.append(dict(kind=kind, depth=depth, batch=batch, dims=ds, predictor_vjp=pv,
                                exponent_pv=slope(ds, pv), exponent_step=e_step))
                print(f"{kind:5} {depth:2d} {batch:4d} {slope(ds, pv):14.2f} {e_step:11.2f}   "
                      + " ".join(f"{t * 1e6:.0f}" for t in pv), flush=True)
    return out


def target(use_torch) -> list[dict]:
    """The issue's targets: conv D = 32, N = 16, L = 3 with B = 1 and B = 256."""
    print("\ntarget problem: conv, D = 32, N = 16, L = 3 (us per step; ratio > 1: ibcore faster)")
    out = []
    for batch, goal in ((1, 3.0), (256, 1.0)):
        net, X, y, init = problem("conv", 32, 3, batch)
        fns = {"ibcore": ibcore_call(net, X, y, init)}
        if use_torch:
            threads = torch.get_num_threads()

            def torch_1thread(call=torch_call("conv", net, X, y, init)):
                torch.set_num_threads(1)
                try:
                    call()
                finally:
                    torch.set_num_threads(threads)

            fns["torch"] = torch_call("conv", net, X, y, init)
            fns["torch_1thread"] = torch_1thread
        wall, cpu = median_steps(fns)
        row = dict(batch=batch, goal=goal, **wall)
        line = f"B = {batch:3d}: ibcore {row['ibcore'] * 1e6:8.1f}"
        if use_torch:
            best = min(row["torch"], row["torch_1thread"])
            met = best / row["ibcore"] >= goal
            line += (f", torch eager {row['torch'] * 1e6:8.1f} ({threads} threads), {row['torch_1thread'] * 1e6:.1f} (1 thread)"
                     f"; faster torch / ibcore = {best / row['ibcore']:.2f} (target >= {goal:g}: {'met' if met else 'NOT met'})")
        print(line, flush=True)
        out.append(row)
    return out


def plot(rows, exps, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(17, 4.2))
    for ax, kind in zip(axes[:3], KINDS):
        for batch, color in zip((1, 16, 256), ("C0", "C1", "C2")):
            for impl, style in (("ibcore", "-o"), ("dense", "--s"), ("torch", ":^")):
                pts = [(r["dim"], batch / r[impl]) for r in rows
                       if r["kind"] == kind and r["depth"] == 3 and r["batch"] == batch and impl in r]
                if pts:
                    d, thr = zip(*pts)
                    ax.loglog(d, thr, style, color=color, label=f"{impl}, B={batch}", ms=4)
        ax.set_title(f"{kind}, L = 3")
        ax.set_xlabel("D (N = D/2)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("(initialization x step) / s")
    axes[2].legend(fontsize=7, ncol=1)
    ax = axes[3]
    for e in exps:
        if e["kind"] != "fc" and e["depth"] == 3:
            ax.loglog(e["dims"], e["predictor_vjp"], "-o" if e["kind"] == "conv" else "--s", ms=4,
                      label=f"{e['kind']} B={e['batch']}: slope {e['exponent_pv']:.2f}")
    ax.set_title("predictor + vjp, L = 3")
    ax.set_xlabel("D")
    ax.set_ylabel("seconds")
    ax.legend(fontsize=7)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="D <= 256, L = 3 only")
    ap.add_argument("--dims", type=int, nargs="+")
    ap.add_argument("--depths", type=int, nargs="+")
    ap.add_argument("--batches", type=int, nargs="+")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--torch-threads", type=int, default=1,
                    help="threads of torch's pool in the grid (0: its default); the target problem reports both")
    ap.add_argument("--no-dense", action="store_true")
    args = ap.parse_args()
    dims = args.dims or ((16, 64, 256) if args.quick else (16, 64, 256, 1024))
    depths = args.depths or ((3,) if args.quick else (2, 3, 4))
    batches = args.batches or (1, 16, 256)
    args.quick = args.quick or bool(args.dims or args.depths or args.batches)
    use_torch = torch is not None and not args.no_torch
    machine = describe()
    if use_torch:
        default_threads = torch.get_num_threads()
        if args.torch_threads:
            torch.set_num_threads(args.torch_threads)
    check()  # the dense references are the same nets
    print(f"machine: {machine}")
    print(f"start: {load()}")
    print(f"one step = one {STEPS}-step gradient_descent call / {STEPS}, median of {RUNS}; angular schedule lr={LR}, T={T:g}")
    print(f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}"
          + (f"; torch in the grid: {torch.get_num_threads()} thread(s)" if use_torch else ""))
    print()
    t0 = time.perf_counter()
    rows = throughput_table(dims, depths, batches, not args.no_dense, use_torch)
    exps = exponent_table(dims, depths, batches, rows)
    if use_torch:
        torch.set_num_threads(default_threads)
    tgt = target(use_torch)
    print(f"\nend: {load()}; {time.perf_counter() - t0:.0f} s")
    suffix = "_quick" if args.quick else ""
    (HERE / f"throughput{suffix}.json").write_text(json.dumps(
        dict(machine=machine, load_end=load(), rows=rows, exponents=exps, target=tgt), indent=1))
    plot(rows, exps, HERE / f"throughput{suffix}.png")


if __name__ == "__main__":
    main()
