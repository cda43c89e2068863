"""Starting and stopping real servers for the pytest suites, in one place: a free port,
waiting until the process answers (or failing with its log), and a clean stop.

The test folders import it by path (each adds Tests/ to sys.path): pytest imports every
conftest.py as `conftest`, so shared code lives in uniquely named modules.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
DUPLEX_BIN = os.environ.get("DUPLEX_BIN") or str(REPO / ".build" / "debug" / "duplex")
ARTIFACT_ROOT = Path(os.environ.get("ARTIFACT_DIR") or "/tmp/duplex-artifacts")


class ServerStartError(AssertionError):
    """The process exited, or did not answer in time; the message ends with its log."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def accepts_tcp(port: int) -> Callable[[], bool]:
    """Ready when a TCP connection to the port succeeds."""
    def check() -> bool:
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return True
        except OSError:
            return False
    return check


_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through http_proxy


def answers_http(url: str) -> Callable[[], bool]:
    """Ready when GET url answers 200."""
    def check() -> bool:
        try:
            with _opener.open(url, timeout=1) as response:
                return response.status == 200
        except OSError:
            return False
    return check


def wait_ready(proc: subprocess.Popen, ready: Callable[[], bool], name: str, log_path: Path,
               timeout: float = 30.0) -> None:
    """Polls `ready` until it holds; raises ServerStartError when the process exits first or
    the time runs out (the process is stopped then)."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise ServerStartError(f"{name} exited with status {proc.returncode} before it was ready; "
                                   f"log {log_path}:\n{log_tail(log_path)}")
        if ready():
            return
        if time.monotonic() > deadline:
            stop(proc)
            raise ServerStartError(f"{name} was not ready within {timeout:g} s; log {log_path}:\n{log_tail(log_path)}")
        time.sleep(0.05)


def start(args: list[str], name: str, log_path: Path, ready: Callable[[], bool], timeout: float = 30.0,
          env: dict | None = None, cwd: Path | None = None) -> subprocess.Popen:
    """Starts `args` with its output in `log_path` (never an unread pipe, which would freeze
    the server once full) and waits until `ready`."""
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        log.write(("$ " + " ".join(args) + "\n").encode())
        log.flush()
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, **(env or {})}, cwd=cwd)
    wait_ready(proc, ready, name, log_path, timeout)
    return proc


def stop(proc: subprocess.Popen | None, timeout: float = 10.0) -> int | None:
    """SIGTERM, then wait (SIGKILL after `timeout`); returns the exit status."""
    if proc is None:
        return None
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode
