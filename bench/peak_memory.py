"""Peak memory of this process, for the benchmarks' fresh child processes.

Not ``resource.getrusage(RUSAGE_SELF).ru_maxrss``: on Linux that survives fork and exec, so a child started by a
parent holding 3 GB (a warehouse built in-process) reports 3 GB whatever it does itself. ``VmHWM`` is the high-water
mark of this process's own memory since its exec.
"""

from __future__ import annotations


def peak_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def reset_peak() -> None:
    """Start the high-water mark again from the current size (Linux's clear_refs "5"), so one process can report
    each step's own peak."""
    with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
        clear_refs.write("5")
