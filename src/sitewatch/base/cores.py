"""How many cores this process may use: its CPU affinity where the OS tells it, else all.

`taskset` and container limits narrow the affinity; sizing thread pools by it keeps the
detector's tiles and the series job's reads from oversubscribing the cores they have.
Several Dask workers on one machine each get their share through `SITEWATCH_THREADS`.
"""

from __future__ import annotations

import os


def usable_cores() -> int:
    """Cores this process may run on: `SITEWATCH_THREADS` when set (a Dask worker's share), else its affinity."""
    share = os.environ.get("SITEWATCH_THREADS", "")
    if share.isdigit() and int(share) > 0:
        return int(share)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1
