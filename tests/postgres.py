"""A throwaway PostgreSQL server for the tests: the PostgreSQL ledger is tested against a real one.

``PostgresServer`` runs Debian's ``initdb`` and ``postgres`` (``scripts/test.sh`` installs the
``postgresql`` package) in a folder of its own. The server listens only on a Unix socket in that
folder, so it takes no TCP port and runs beside any other PostgreSQL; fsync is on, since the
ledger's crash tests count on what PostgreSQL promises after a commit. PostgreSQL refuses to run
as root: as root (CI) the server runs as the ``postgres`` OS user, through ``runuser``.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

import psycopg
from psycopg import sql

INSTALL_HINT = "scripts/test.sh installs it (apt-get install postgresql)"
DATABASE = "alsats"  # made by start(); url names it


class PostgresNotInstalled(RuntimeError):
    """No PostgreSQL server programs: the tests would not test the PostgreSQL ledger."""


def postgres_bin() -> Path:
    """The bin folder of the newest PostgreSQL in /usr/lib/postgresql (Debian's layout)."""
    found = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/initdb")]
    if not found:
        raise PostgresNotInstalled(
            f"PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): {INSTALL_HINT}")

    def version(bin_dir: Path) -> tuple[int, ...]:
        parts = bin_dir.parent.name.split(".")
        return tuple(int(p) for p in parts if p.isdigit())

    return max(found, key=version)


class PostgresServer:
    """A PostgreSQL server in ``folder`` (data, socket, log), stopped on exit.

    ``folder=None`` makes a fresh folder under /tmp, removed on exit: as root, use that,
    because the ``postgres`` user must reach the folder (pytest's own temp folders are 0700).
    """

    def __init__(self, folder: Path | None = None, timeout: float = 60.0) -> None:
        self.bin = postgres_bin()
        self._owned = folder is None
        self.folder = Path(tempfile.mkdtemp(prefix="alsats-pg-") if folder is None else folder)
        self.data = self.folder / "data"
        self.log = self.folder / "postgres.log"
        self.timeout = timeout
        self._as: list[str] = []
        self.user = pwd.getpwuid(os.geteuid()).pw_name  # initdb's superuser: who runs it
        self.folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            try:
                pg = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresNotInstalled(
                    "running as root, PostgreSQL must run as the 'postgres' user, which is "
                    f"missing: {INSTALL_HINT}") from None
            self._as = ["runuser", "-u", "postgres", "--"]
            self.user = "postgres"
            os.chown(self.folder, pg.pw_uid, pg.pw_gid)
            self.folder.chmod(0o755)

    @property
    def url(self) -> str:
        """libpq's URL of the ``alsats`` database, over the Unix socket."""
        return self.url_of(DATABASE)

    def url_of(self, database: str) -> str:
        """libpq's URL of ``database`` on this server (psycopg.connect takes it)."""
        return (f"postgresql:///{quote(database)}?host={quote(str(self.folder), safe='/')}"
                f"&user={quote(self.user)}")

    def new_database(self, name: str) -> str:
        """CREATE DATABASE ``name`` (empty) and return its URL: one per test, no leftovers."""
        with psycopg.connect(self.url_of("postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url_of(name)

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """A PostgreSQL program as the server's user; cwd is the folder, which that user reads."""
        return subprocess.run([*self._as, str(self.bin / args[0]), *args[1:]], cwd=self.folder,
                              capture_output=True, text=True, timeout=self.timeout)

    def _fail(self, what: str, output: str = "") -> RuntimeError:
        log = self.log.read_text(errors="replace") if self.log.exists() else "(no log)"
        return RuntimeError(f"PostgreSQL {what}\n{output}\n--- {self.log} ---\n{log}")

    def start(self) -> PostgresServer:
        """initdb, then postgres on the socket only; returns once it accepts connections."""
        done = self._run("initdb", "-D", str(self.data), "--auth=trust", "--encoding=UTF8",
                         "--locale=C", "--username", self.user)
        if done.returncode != 0:
            raise self._fail("initdb failed", done.stdout + done.stderr)
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"\n# tests/postgres.py\nlisten_addresses = ''\n"
                       f"unix_socket_directories = '{self.folder}'\n"
                       "fsync = on\nsynchronous_commit = on\nfull_page_writes = on\n")
        done = self._run("pg_ctl", "start", "-D", str(self.data), "-l", str(self.log),
                         "-w", "-t", str(int(self.timeout)))
        if done.returncode != 0:
            raise self._fail("did not start", done.stdout + done.stderr)
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                with psycopg.connect(self.url_of("postgres"), autocommit=True,
                                     connect_timeout=5) as conn:
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
                return self
            except psycopg.OperationalError as error:
                if time.monotonic() > deadline:
                    failure = self._fail(f"accepts no connections: {error}")
                    self.stop()
                    raise failure from error
                time.sleep(0.2)

    def stop(self) -> None:
        """pg_ctl stop -m fast, then immediate, then SIGKILL: never leave a server behind."""
        pid_file = self.data / "postmaster.pid"
        for mode in ("fast", "immediate"):
            if not pid_file.exists():
                break
            try:
                self._run("pg_ctl", "stop", "-D", str(self.data), "-m", mode, "-w", "-t", "30")
            except subprocess.TimeoutExpired:
                continue
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError, ValueError, IndexError):
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
        if self._owned:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
