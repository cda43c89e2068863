"""A throwaway PostgreSQL server for tests: Debian's `postgresql` binaries (initdb, pg_ctl),
its own data directory in a temporary folder, its own free TCP port on 127.0.0.1, its Unix
socket in that folder, trust authentication; no system service, no Docker.

    from pg_server import PostgresServer
    with PostgresServer() as pg:          # or pg = PostgresServer(); pg.start(); … pg.stop()
        pg.url                            # postgres://postgres@127.0.0.1:<port>/postgres
        pg.connect()                      # a psycopg connection (autocommit)
        pg.create_database("chat")        # → its URL
        pg.restart()                      # stop (fast) + start, same port and data
        pg.log_path                       # the server's log

A missing binary raises (a test that needs PostgreSQL fails, it never skips). Binaries are
looked up in PATH, then /usr/lib/postgresql/<version>/bin. Any test folder may use it: it
sits beside duplex_process.py in Tests/, which every suite puts on sys.path.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def _find(binary: str) -> str:
    found = shutil.which(binary)
    if found:
        return found
    for candidate in sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{binary}"), reverse=True):
        return candidate
    raise FileNotFoundError(f"{binary} not found: install Debian's postgresql package (scripts/install-test-deps)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """One PostgreSQL cluster in a temporary directory (removed by stop())."""

    def __init__(self, user: str = "postgres", keep_dir: bool = False) -> None:
        self.initdb = _find("initdb")
        self.pg_ctl = _find("pg_ctl")
        self.user = user
        self.keep_dir = keep_dir
        self.port = _free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="duplex-pg-"))
        self.data_dir = self.dir / "data"
        self.socket_dir = self.dir / "socket"
        self.log_path = self.dir / "postgres.log"
        self.running = False
        self._initialized = False

    # --- lifecycle

    def _run(self, args: list[str]) -> None:
        env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
        # initdb and postgres refuse to run as root: drop to the `postgres` user when root.
        if os.geteuid() == 0:
            import pwd
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError as error:
                raise RuntimeError("running as root needs a `postgres` user (Debian's postgresql package makes it)") from error
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            for path in (self.data_dir, self.socket_dir):
                if path.exists():
                    os.chown(path, pw.pw_uid, pw.pw_gid)
            if self.log_path.exists():
                os.chown(self.log_path, pw.pw_uid, pw.pw_gid)

            def demote() -> None:
                os.setgid(pw.pw_gid)
                os.setuid(pw.pw_uid)
            result = subprocess.run(args, env={**env, "HOME": str(self.dir)}, preexec_fn=demote,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=self.dir)
        else:
            result = subprocess.run(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=self.dir)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout.decode(errors='replace')}\n"
                               f"log:\n{self.log_tail()}")

    def start(self, timeout: float = 30.0) -> "PostgresServer":
        if not self._initialized:
            self.socket_dir.mkdir(parents=True, exist_ok=True)
            self._run([self.initdb, "-D", str(self.data_dir), "-U", self.user, "--auth=trust",
                       "--encoding=UTF8", "--no-sync"])
            self._initialized = True
        options = (f"-c port={self.port} -c listen_addresses=127.0.0.1 "
                   f"-c unix_socket_directories={self.socket_dir} -c fsync=off "
                   f"-c synchronous_commit=off -c full_page_writes=off -c max_connections=100")
        self._run([self.pg_ctl, "-D", str(self.data_dir), "-l", str(self.log_path), "-o", options,
                   "-w", "-t", str(int(timeout)), "start"])
        self.running = True
        self._wait_accepting(timeout)
        return self

    def _wait_accepting(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"PostgreSQL did not accept connections on {self.port}; log:\n{self.log_tail()}")

    def stop(self, mode: str = "fast", remove: bool = True) -> None:
        """Stops the server (`fast`: disconnects clients; `immediate`: like a crash) and,
        with `remove`, deletes its directory."""
        if self.running:
            self._run([self.pg_ctl, "-D", str(self.data_dir), "-m", mode, "-w", "stop"])
            self.running = False
        if remove and not self.keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def restart(self, down_seconds: float = 0.0) -> None:
        """Stops (fast) and starts again on the same port with the same data."""
        self.stop(remove=False)
        if down_seconds:
            time.sleep(down_seconds)
        self.start()

    def __enter__(self) -> "PostgresServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- use

    def url_for(self, database: str = "postgres") -> str:
        return f"postgres://{self.user}@127.0.0.1:{self.port}/{database}"

    @property
    def url(self) -> str:
        return self.url_for()

    def connect(self, database: str = "postgres", autocommit: bool = True):
        import psycopg  # imported here: the fixture itself needs only the binaries
        return psycopg.connect(host="127.0.0.1", port=self.port, user=self.user, dbname=database,
                               autocommit=autocommit)

    def create_database(self, name: str) -> str:
        with self.connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url_for(name)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


try:
    import pytest
except ImportError:  # used outside pytest (Benchmarks/): no fixture then
    pytest = None

if pytest is not None:
    @pytest.fixture(scope="module")
    def pg():
        """A throwaway PostgreSQL server per test module (import it into a suite's support module)."""
        server = PostgresServer().start()
        yield server
        server.stop()
