"""Worker pools for training: results in order, and no worker outlives a stopped parent."""

import signal
import subprocess
import sys
import time
from pathlib import Path

from sitewatch.train.jobs import pool_map

_PARENT = """
import time
from sitewatch.train.jobs import pool_map
for _ in pool_map(time.sleep, [120, 120], 2):
    pass
"""


def _state_and_parent(pid: int | str) -> tuple[str, int] | None:
    """Process state letter and parent pid from /proc (Linux); None when the process is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[0], int(fields[1])


def _alive(pid: int) -> bool:
    stat = _state_and_parent(pid)
    return stat is not None and stat[0] != "Z"  # a zombie has stopped running


def _spawned_children(pid: int) -> list[int]:
    """Live pool workers whose parent is `pid`."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:  # the process ended while we looked
            continue
        stat = _state_and_parent(proc.name)
        if stat is not None and stat[0] != "Z" and stat[1] == pid and b"spawn_main" in cmdline:
            found.append(int(proc.name))
    return found


def test_pool_map_yields_every_result_in_input_order():
    assert list(pool_map(abs, [-3, 1, -2, 5, -4], 2)) == [3, 1, 2, 5, 4]


def test_sigterm_to_the_parent_stops_its_workers_too():
    parent = subprocess.Popen([sys.executable, "-c", _PARENT])
    try:
        deadline = time.monotonic() + 60
        while len(workers := _spawned_children(parent.pid)) < 2:
            assert time.monotonic() < deadline, "the pool never started its two workers"
            time.sleep(0.1)
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(timeout=30) == 128 + signal.SIGTERM
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in workers):
            assert time.monotonic() < deadline, f"workers {workers} still run after their parent stopped"
            time.sleep(0.1)
    finally:
        parent.kill()
