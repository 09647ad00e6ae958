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
