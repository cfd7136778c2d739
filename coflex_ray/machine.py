"""One line naming the machine a run is on (written into study reports and benchmark outputs)."""

from __future__ import annotations

import os
import platform


def machine() -> str:
    """One line naming the machine a study or benchmark ran on."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), cpu)
    except OSError:
        pass
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        mem = float("nan")
    return (f"machine: {cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, {platform.system()} "
            f"python {platform.python_version()}, torch {torch.__version__} ({torch.get_num_threads()} threads)")
