"""`duplex bench chat` against a real `duplex chat`: the generator behind the chat's
measurements (Benchmarks/chat_cluster_bench.py) must count every delivery of every message
to every member, and must not pass when the chat refuses messages."""

from __future__ import annotations

import json
import subprocess

from duplex_process import DUPLEX_BIN


def bench(chat, *args: str) -> tuple[int, dict]:
    done = subprocess.run([DUPLEX_BIN, "bench", "chat", "--port", str(chat.port), "--json", "--quiet",
                           "--warmup", "0.5", "--duration", "1.5", "--server-pid", str(chat.proc.pid), *args],
                          capture_output=True, text=True, timeout=120)
    assert done.stdout.strip(), done.stderr
    return done.returncode, json.loads(done.stdout)


def test_every_member_receives_every_message(chat):
    code, result = bench(chat, "--connections", "30", "--publishers", "3", "--rate", "4")
    assert code == 0, result
    assert result["scenario"] == "chat"
    assert result["sent"] > 0
    assert result["expected"] == result["sent"] * 30
    assert result["received"] == result["expected"] and result["missing"] == 0
    assert result["unexpected"] == 0 and result["errors"] == 0
    assert result["latencyMicroseconds"]["count"] == result["messages"] > 0
    assert result["serverCPUSeconds"] is not None


def test_refusals_fail_the_run(chat):
    # Messages over the chat's 2,000 characters are refused (type 6, too_long): a run that
    # meets refusals must fail and say why, not look like a quiet clean result.
    code, result = bench(chat, "--connections", "4", "--publishers", "1", "--rate", "2", "--size", "2100")
    assert code != 0
    assert result["errors"] > 0 and "the chat refused a message" in result["firstError"], result
    assert "too_long" in result["firstError"]


def test_a_rate_above_the_chats_limit_is_refused_before_connecting(chat):
    refused = subprocess.run([DUPLEX_BIN, "bench", "chat", "--port", str(chat.port), "--rate", "5"],
                             capture_output=True, text=True, timeout=30)
    assert refused.returncode != 0 and "--rate must be in (0, 4]" in refused.stderr
