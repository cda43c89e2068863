"""The `duplex` command as a new user meets it: bad flags, a busy port, a database it cannot
open, a bench target that is not there, output through a pipe, and SIGTERM with a long poll
held open. Each case says what is wrong in one line, exits non-zero, and never crashes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from duplex_process import DUPLEX_BIN, HOST, free_port  # noqa: E402

pytestmark = pytest.mark.timeout(60)


def run(*args: str, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run([DUPLEX_BIN, *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def assert_clean_failure(result: subprocess.CompletedProcess, *fragments: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode not in (0, 132, 134) and result.returncode > 0, (result.returncode, output)
    for fragment in fragments:
        assert fragment in output, output
    assert "Backtrac" not in output and "Fatal error" not in output and "Assertion failed" not in output, output


def test_version():
    result = run("--version")
    assert result.returncode == 0 and result.stdout.startswith("duplex "), result


def test_a_port_out_of_range_is_refused_not_wrapped():
    for command in ("chat", "echo"):
        extra = ["--memory"] if command == "chat" else []
        assert_clean_failure(run(command, "--port", "99999", *extra), "--port must be 0", "99999")


def test_a_busy_port_says_which_port():
    with socket.socket() as holder:
        holder.bind((HOST, 0))
        holder.listen()
        port = holder.getsockname()[1]
        for command in (["chat", "--memory"], ["echo"]):
            assert_clean_failure(run(*command, "--port", str(port)), f"127.0.0.1:{port}", "already in use")


def test_a_missing_folder_is_named():
    result = run("chat", "--db", "/nonexistent-duplex-dir/x/chat.sqlite", "--port", "0")
    assert_clean_failure(result, "the folder /nonexistent-duplex-dir/x does not exist")


def test_a_read_only_database_is_an_error_not_a_crash():
    """A read-only bind mount (root ignores permission bits, not a read-only mount)."""
    with tempfile.TemporaryDirectory() as source, tempfile.TemporaryDirectory() as mountpoint:
        import sqlite3
        connection = sqlite3.connect(os.path.join(source, "chat.sqlite"))  # rollback journal: WAL must be switched on
        connection.execute("CREATE TABLE t (x)")
        connection.commit()
        connection.close()
        subprocess.run(["mount", "--bind", source, mountpoint], check=True)
        try:
            subprocess.run(["mount", "-o", "remount,bind,ro", mountpoint], check=True)
            result = run("chat", "--db", os.path.join(mountpoint, "chat.sqlite"), "--port", "0", timeout=15)
        finally:
            subprocess.run(["umount", mountpoint], check=True)
    assert_clean_failure(result, "read-only")


def test_bench_against_a_closed_port_says_connection_refused():
    result = run("bench", "echo", "--port", str(free_port()), "--duration", "1", "--warmup", "0", "--quiet")
    assert_clean_failure(result, "cannot connect", "connection refused")
    assert "errno" not in result.stderr and "error set" not in result.stderr, result.stderr


def test_the_address_line_reaches_a_pipe_at_once():
    port = free_port()
    proc = subprocess.Popen([DUPLEX_BIN, "chat", "--memory", "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True)
    try:
        # Each line arrives while the process runs (log lines may come first).
        lines = []
        while not any("open http" in line for line in lines):
            line = proc.stdout.readline()
            assert line, f"stdout ended before the address line: {lines}"
            lines.append(line)
        assert any(f"http://127.0.0.1:{port}/" in line for line in lines), lines
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait(10)


def test_sigterm_right_after_the_address_line_shuts_down():
    """Regression: the signals were watched through DispatchSource, which libdispatch
    registers some time after resume(); a SIGTERM sent as soon as the address line was seen
    could come first and be ignored, and the server ran on (4 in 40 under load)."""
    for attempt in range(12):
        port = free_port()
        proc = subprocess.Popen([DUPLEX_BIN, "chat", "--memory", "--port", str(port)], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True)
        try:
            while "open http" not in (line := proc.stdout.readline()):
                assert line, "stdout ended before the address line"
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(10) == 0, f"attempt {attempt}: exit status {proc.returncode}"
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


def test_sigterm_answers_a_held_long_poll_with_a_close_packet():
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="duplex-chat-", suffix=".log", delete=False)
    proc = subprocess.Popen([DUPLEX_BIN, "chat", "--memory", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling"
        deadline = time.monotonic() + 20
        while True:
            try:
                opened = urllib.request.urlopen(base, timeout=2).read().decode()
                break
            except OSError:
                assert time.monotonic() < deadline, "chat did not start"
                time.sleep(0.1)
        sid = opened.split('"sid":"')[1].split('"')[0]
        urllib.request.urlopen(urllib.request.Request(f"{base}&sid={sid}", data=b"40", method="POST"), timeout=5).read()
        urllib.request.urlopen(f"{base}&sid={sid}", timeout=5).read()  # the CONNECT reply
        time.sleep(0.5)
        urllib.request.urlopen(f"{base}&sid={sid}", timeout=5).read()  # welcome, presence

        # The next poll is held (nothing to send); SIGTERM must answer it.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as held:
            held.sendall(f"GET /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            time.sleep(0.5)
            proc.send_signal(signal.SIGTERM)
            response = b""
            while True:
                chunk = held.recv(4096)
                if not chunk:
                    break
                response += chunk
        assert response.startswith(b"HTTP/1.1 200"), response
        assert response.split(b"\r\n\r\n", 1)[1].startswith(b"1"), response  # the CLOSE packet
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = Path(log.name).read_text(errors="replace")
    assert text.count("server closed") == 1, text
    assert "I/O on closed channel" not in text, text
