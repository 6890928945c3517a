"""A one-line description of the machine and of its load, printed beside every benchmark table."""

from __future__ import annotations

import os
import platform

import numpy as np
import scipy


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load() -> str:
    """The 1, 5 and 15 minute load averages (what ``uptime`` prints)."""
    try:
        return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "load average unknown"


def describe() -> str:
    blas = ""
    try:
        cfg = np.show_config(mode="dicts")
        blas = f", BLAS {cfg['Build Dependencies']['blas']['name']} {cfg['Build Dependencies']['blas']['version']}"
    except Exception:  # numpy < 2 or an unusual build: the rest is enough
        pass
    try:
        import torch

        tv = f", torch {torch.__version__} ({torch.get_num_threads()} threads)"
    except ImportError:
        tv = ", torch not installed"
    return (f"{cpu_model()}, {os.cpu_count()} cores; Python {platform.python_version()}, numpy {np.__version__}"
            f", scipy {scipy.__version__}{blas}{tv}")
