from sitewatch.base.cores import usable_cores


def test_a_workers_share_of_the_cores_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("SITEWATCH_THREADS", raising=False)
    everything = usable_cores()
    assert everything >= 1
    monkeypatch.setenv("SITEWATCH_THREADS", "3")
    assert usable_cores() == 3
    for ignored in ("0", "-2", "many", ""):
        monkeypatch.setenv("SITEWATCH_THREADS", ignored)
        assert usable_cores() == everything


def test_peak_memory_is_the_processs_own():
    """A child's peak counts what it touched, not its parent's peak (ru_maxrss starts from it)."""
    import subprocess
    import sys

    import numpy as np

    block = np.ones(400 * 2**20 // 8)  # the parent's peak: over 400 MiB
    code = (
        "import numpy as np; from sitewatch.base.cores import peak_rss_bytes as p; a = p(); "
        "b = np.ones(200 * 2**20 // 8); print(a, p())"
    )
    before, after = map(int, subprocess.check_output([sys.executable, "-c", code], text=True).split())
    del block
    assert before < 300 * 2**20  # not the parent's 400 MiB
    assert after - before >= 190 * 2**20  # the 200 MiB the child touched
