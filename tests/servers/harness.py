"""Start the real servers the STAC tests talk to: PostgreSQL + pgstac, stac-fastapi, a COG store.

Everything listens on 127.0.0.1 on free ports and lives in a temporary folder; `make test`
installs PostgreSQL with PostGIS from Debian packages when they are missing. As root,
PostgreSQL runs as the `postgres` user (it refuses to run as root).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: run `make test`, which installs it (Debian packages)")
    return Path(found[-1]).parent


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@dataclass
class PostgresServer:
    port: int
    folder: Path
    bin: Path

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def env(self) -> dict[str, str]:
        return {
            "PGHOST": "127.0.0.1",
            "PGPORT": str(self.port),
            "PGUSER": "postgres",
            "PGPASSWORD": "x",
            "PGDATABASE": "postgres",
        }

    @classmethod
    def start(cls) -> PostgresServer:
        pg = _pg_bin()
        folder = Path(tempfile.mkdtemp(prefix="sitewatch-pg-"))
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres", "postgres")
        data = folder / "data"
        subprocess.run(
            _as_postgres([str(pg / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"]),
            check=True,
            capture_output=True,
        )
        port = free_port()
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            _as_postgres(
                [str(pg / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start"]
            ),
            check=True,
            capture_output=True,
        )
        return cls(port, folder, pg)

    def stop(self) -> None:
        subprocess.run(
            _as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(self.folder, ignore_errors=True)


def wait_until_up(process: subprocess.Popen, probe: str, log: Path, name: str, timeout: float = 60) -> None:
    """Wait until `probe` answers; a server that exits or stays silent fails with its log's tail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited: {log.read_text()[-2000:]}")
        try:
            requests.get(probe, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{name} did not start within {timeout:.0f} s: {log.read_text()[-2000:]}")


@dataclass
class ServerProcess:
    """A server started as its own process on 127.0.0.1, its output in `log`."""

    url: str
    process: subprocess.Popen
    log: Path

    @classmethod
    def launch(cls, cmd: list[str], port: int, probe: str, log: Path, name: str, env: dict[str, str] | None = None):
        """Start `cmd` (listening on `port`) and wait until `probe` (a path) answers."""
        with open(log, "wb") as out:
            process = subprocess.Popen(
                cmd, cwd=REPO, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT
            )
        url = f"http://127.0.0.1:{port}"
        wait_until_up(process, f"{url}{probe}", log, name)
        return cls(url, process, log)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


class Uvicorn(ServerProcess):
    @classmethod
    def start(cls, app: str, env: dict[str, str], log: Path, factory: bool = False) -> Uvicorn:
        port = free_port()
        cmd = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]
        return cls.launch([*cmd, "--log-level", "warning"], port, "/_faults", log, app, env)

    def faults(self, fail: int = 0, status: int = 500, delay: float = 0.0) -> dict:
        return requests.get(
            f"{self.url}/_faults", params={"fail": fail, "status": status, "delay": delay}, timeout=5
        ).json()


@dataclass
class StacStack:
    db: PostgresServer
    api: Uvicorn
    assets: Uvicorn
    folder: Path
    items: list[dict] = field(default_factory=list)

    def stop(self) -> None:
        for server in (self.api, self.assets, self.db):
            server.stop()


def start_stack(build, asset_root: Path, token: str) -> StacStack:
    """Start PostgreSQL + pgstac, the COG store, load `build(asset_url)` -> (collections, items), start the API."""
    from pypgstac.db import PgstacDB
    from pypgstac.load import Loader, Methods
    from pypgstac.migrate import Migrate

    db = PostgresServer.start()
    started: list[Uvicorn] = []
    try:
        assets = Uvicorn.start(
            "tests.servers.assets:app",
            {"SITEWATCH_TEST_ASSETS": str(asset_root), "SITEWATCH_TEST_TOKEN": token},
            db.folder / "assets.log",
        )
        started.append(assets)
        collections, items = build(assets.url)
        with PgstacDB(dsn=db.dsn) as conn:
            Migrate(conn).run_migration()
            loader = Loader(conn)
            loader.load_collections(iter(collections), Methods.insert)
            loader.load_items(iter(items), Methods.insert)
        api = Uvicorn.start("tests.servers.stac_api:app", db.env, db.folder / "api.log")
    except Exception:
        for server in started:
            server.stop()
        db.stop()
        raise
    return StacStack(db, api, assets, db.folder, items)
