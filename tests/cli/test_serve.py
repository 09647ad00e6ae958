"""`sitewatch serve`: its options, its warning when it listens beyond this machine, one-line errors."""

from __future__ import annotations

import subprocess
import sys
import time

from tests.cli.run import assert_one_line_error, sitewatch
from tests.servers.harness import free_port


def test_bad_options_are_one_line(tmp_path):
    db = f"sqlite:///{tmp_path / 'store.db'}"
    assert_one_line_error(sitewatch("serve", "--db", db, "--tls-cert", tmp_path / "c.pem"), "--tls-key")
    missing = sitewatch("serve", "--db", db, "--tls-cert", tmp_path / "c.pem", "--tls-key", tmp_path / "k.pem")
    assert_one_line_error(missing, "no such file")
    assert_one_line_error(sitewatch("serve", "--db", db, "--basemap", "http://x/{z}/{x}/{y}"), "--basemap")
    assert_one_line_error(sitewatch("serve", "--db", "mysql://x"), "not supported")


def test_listening_beyond_this_machine_without_tls_warns(tmp_path):
    port = free_port()
    cmd = [sys.executable, "-m", "sitewatch", "serve", "--db", f"sqlite:///{tmp_path / 'store.db'}"]
    process = subprocess.Popen(
        [*cmd, "--host", "0.0.0.0", "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        line = process.stdout.readline()
        assert f"workbench on http://0.0.0.0:{port}/" in line
        time.sleep(0.5)
    finally:
        process.terminate()
        _, err = process.communicate(timeout=20)
    assert "warning: listening on 0.0.0.0 without TLS" in " ".join(err.split())
