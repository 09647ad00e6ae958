"""How many cores this process may use (its CPU affinity where the OS tells it, else all), and its peak memory.

`taskset` and container limits narrow the affinity; sizing thread pools by it keeps the
detector's tiles and the series job's reads from oversubscribing the cores they have.
Several Dask workers on one machine each get their share through `SITEWATCH_THREADS`.
"""

from __future__ import annotations

import os
from pathlib import Path


def usable_cores() -> int:
    """Cores this process may run on: `SITEWATCH_THREADS` when set (a Dask worker's share), else its affinity."""
    share = os.environ.get("SITEWATCH_THREADS", "")
    if share.isdigit() and int(share) > 0:
        return int(share)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def peak_rss_bytes() -> int:
    """This process's peak resident memory, bytes.

    VmHWM where Linux gives it: unlike `ru_maxrss`, it does not start from the parent's peak,
    which a child inherits across fork and exec (a Dask worker, a benchmark's subprocess).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import resource
    except ImportError:  # Windows
        return 0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
