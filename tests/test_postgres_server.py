"""The throwaway PostgreSQL server of tests/postgres.py: the ledger's tests stand on it."""

from __future__ import annotations

import psycopg
import pytest

from tests.postgres import PostgresServer


def test_a_row_written_is_read_back(postgresql_url: str) -> None:
    with psycopg.connect(postgresql_url) as conn:
        conn.execute("CREATE TABLE credits (id text PRIMARY KEY, sats bigint NOT NULL)")
        conn.execute("INSERT INTO credits VALUES (%s, %s)", ("a", 21))
        conn.commit()
    with psycopg.connect(postgresql_url) as conn:
        assert conn.execute("SELECT sats FROM credits WHERE id = 'a'").fetchone() == (21,)


def test_each_test_gets_its_own_database(postgres_server: PostgresServer,
                                         postgresql_url: str) -> None:
    other = postgres_server.new_database("t_other")
    assert other != postgresql_url
    with psycopg.connect(postgresql_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE only_here (x int)")
    with psycopg.connect(other) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("t_other",)
        assert conn.execute("SELECT to_regclass('only_here')").fetchone() == (None,)


def test_socket_only_and_fsync_on(postgres_server: PostgresServer) -> None:
    with psycopg.connect(postgres_server.url) as conn:
        assert conn.execute("SHOW listen_addresses").fetchone() == ("",)
        assert conn.execute("SHOW fsync").fetchone() == ("on",)
        assert conn.execute("SHOW unix_socket_directories").fetchone() == (
            str(postgres_server.folder),)


def test_a_killed_backend_leaves_the_server_running(postgresql_url: str) -> None:
    with psycopg.connect(postgresql_url, autocommit=True) as victim:
        pid = victim.info.backend_pid
        with psycopg.connect(postgresql_url, autocommit=True) as killer:
            assert killer.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
        with pytest.raises(psycopg.OperationalError):
            victim.execute("SELECT 1")
    with psycopg.connect(postgresql_url) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
