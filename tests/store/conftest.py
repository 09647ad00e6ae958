"""Every store test runs twice: on a SQLite file and on a real PostgreSQL on 127.0.0.1."""

from __future__ import annotations

import itertools

import pytest

from tests.servers.harness import PostgresServer

_counter = itertools.count()


@pytest.fixture(scope="session")
def postgres():
    server = PostgresServer.start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    import psycopg

    server = request.getfixturevalue("postgres")
    name = f"store_{next(_counter)}"
    with psycopg.connect(server.dsn, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    return f"postgresql://postgres@127.0.0.1:{server.port}/{name}"
