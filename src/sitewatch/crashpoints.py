"""Named points where crash tests hold a run so that they can kill it there.

`SITEWATCH_TEST_PAUSE=<stage>:<seconds>` makes the run print "test pause at stage N" and
sleep at stage N; unset (always, outside tests) it does nothing. A test that waits for
the line kills the run at a known point on any machine, where a fixed sleep in the test
would land before or after that point depending on the machine's speed.

Stages: 0 half the scenes read (nothing cached or stored), 1 half the events added to the
store's transaction, 2 everything added and not yet committed.
"""

from __future__ import annotations

import os
import sys
import time


def pause_here(stage: int) -> None:
    """Sleep at `stage` if SITEWATCH_TEST_PAUSE names it; no effect otherwise."""
    spec = os.environ.get("SITEWATCH_TEST_PAUSE")
    if spec and int(spec.split(":")[0]) == stage:
        print(f"test pause at stage {stage}", file=sys.stderr, flush=True)
        time.sleep(float(spec.split(":")[1]))
