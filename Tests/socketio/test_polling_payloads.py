"""Long-polling responses hold at most 16 packets (EngineIOOptions.maxPacketsPerPoll):
python-engineio's client refuses a payload of more ("Too many packets in payload") and
drops its session, so a burst to a polling client must come in several responses."""

from __future__ import annotations


def test_a_burst_reaches_a_default_python_polling_client_whole(server, clients):
    client = clients(transports=["polling"])
    client.next("welcome")
    # 200 events at once: 13 polling responses at most 16 packets each, none refused.
    assert client.sio.call("emit-many", {"rooms": [client.sid], "event": "n", "count": 200}, timeout=10) is not None
    got = [client.next("n", timeout=10)[0] for _ in range(200)]
    assert got == list(range(200))
    assert client.sio.connected
    assert client.disconnect_reasons.empty()
