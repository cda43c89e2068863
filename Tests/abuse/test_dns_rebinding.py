"""S2: DNS rebinding. A server bound to loopback (the default 127.0.0.1) answers only
requests addressed to a loopback name: Host localhost, 127.0.0.1 or [::1], any port.
A page on evil.example whose DNS name was re-pointed to 127.0.0.1 sends Host: evil.example
and gets 403. `--allow-host NAME` allows another name.
"""

from __future__ import annotations

import abuse_net

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")


def assert_refused_for_host(response, what: str) -> None:
    abuse_net.assert_refused(response, what, "host")


def test_chat_answers_loopback_names_only(chat):
    """Baseline: FAILS — GET / with Host: evil.example gets 200 and the page."""
    port = chat.port
    for host in ("evil.example", f"evil.example:{port}", "127.0.0.1.evil.example"):
        assert_refused_for_host(abuse_net.http_get(port, "/", {"Host": host}), f"GET / with Host {host}")
        assert_refused_for_host(abuse_net.ws_upgrade(port, "/", {"Host": host}), f"upgrade with Host {host}")
    for name in LOOPBACK_HOSTS:
        for host in (name, f"{name}:{port}", f"{name}:80"):
            assert abuse_net.http_get(port, "/", {"Host": host}).status == 200, host
    assert abuse_net.ws_upgrade(port, "/", {"Host": f"localhost:{port}"}).status == 101


def test_echo_answers_loopback_names_only(echo):
    """Baseline: FAILS — an upgrade with Host: evil.example gets 101."""
    port = echo.port
    assert_refused_for_host(abuse_net.ws_upgrade(port, "/", {"Host": f"evil.example:{port}"}), "upgrade with Host evil.example")
    for name in LOOPBACK_HOSTS:
        assert abuse_net.ws_upgrade(port, "/", {"Host": f"{name}:{port}"}).status == 101, name


def test_allow_host_allows_that_name(start_server):
    """Baseline: FAILS — `--allow-host` is an unknown option (exit status 64)."""
    chat = start_server("chat", "--allow-host", "example.test")
    port = chat.port
    assert abuse_net.http_get(port, "/", {"Host": "example.test:8080"}).status == 200
    assert abuse_net.http_get(port, "/", {"Host": "example.test"}).status == 200
    assert abuse_net.ws_upgrade(port, "/", {"Host": f"example.test:{port}"}).status == 101
    assert abuse_net.http_get(port, "/", {"Host": f"localhost:{port}"}).status == 200
    assert_refused_for_host(abuse_net.http_get(port, "/", {"Host": "other.test"}), "GET / with Host other.test")
