"""`duplex echo` talking to the Node `ws` client (Debian package node-ws),
through node/ws-client.js which prints one JSON result per scenario."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent / "node" / "ws-client.js"
NODE_PATH = "/usr/share/nodejs"


def run_node(server, scenario: str) -> dict:
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None or not Path(NODE_PATH, "ws").is_dir():
        pytest.fail("node or the node-ws package is missing (run scripts/install-test-deps)", pytrace=False)
    env = dict(os.environ, NODE_PATH=NODE_PATH)
    proc = subprocess.run([node, str(SCRIPT), server.url, scenario], capture_output=True, text=True,
                          timeout=40, env=env)
    assert proc.returncode == 0, f"node exited {proc.returncode}: {proc.stderr}"
    lines = proc.stdout.strip().splitlines()
    assert lines, f"node printed nothing; stderr: {proc.stderr}"
    result = json.loads(lines[-1])
    assert result["scenario"] == scenario
    assert "error" not in result, f"node ws client: {result['error']}"
    return result


def test_text(server):
    r = run_node(server, "text")
    assert r["binary"] is False
    assert r["received"] == r["sent"]


def test_binary(server):
    r = run_node(server, "binary")
    assert r["binary"] is True
    assert r["received_hex"] == r["sent_hex"]
    assert len(r["received_hex"]) == 512


@pytest.mark.parametrize("scenario", ["large_text", "large_binary", "fragmented_binary"])
def test_large_and_fragmented_binary(server, scenario):
    r = run_node(server, scenario)
    assert r["received"] == r["sent"]
    if scenario.startswith("large"):
        assert r["sent"]["length"] == 1024 * 1024


def test_fragmented_text(server):
    r = run_node(server, "fragmented_text")
    assert r["binary"] is False
    assert r["received"] == r["sent"] == "frag-1 frag-2 中文 end"


def test_ping_pong(server):
    r = run_node(server, "ping")
    assert r["pong_hex"] == r["sent_hex"]
    assert r["after"] == "after ping"


@pytest.mark.parametrize("scenario,code", [("close_1000", 1000), ("close_4000", 4000)])
def test_close_codes(server, scenario, code):
    r = run_node(server, scenario)
    # ws reports the code of the server's close frame (1006 if there was none)
    assert r["code"] == code, f"sent close {code}, server answered {r['code']}"


def test_many_in_order(server):
    r = run_node(server, "many")
    assert r["received"] == r["sent"]
