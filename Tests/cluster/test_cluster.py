"""Socket.IO across servers on PostgreSQL: three Duplex nodes on one database (a fresh
database of a throwaway PostgreSQL server per test), python-socketio clients spread over
them. Every operator must behave as on one node."""

from __future__ import annotations

import time

import socketio

from cluster_support import wait_until


def spread(cluster, per_node=2, transports=None):
    """Clients round-robin over the nodes (websocket and polling mixed)."""
    clients = []
    for i in range(per_node * len(cluster.nodes)):
        node = cluster.nodes[i % len(cluster.nodes)]
        client = cluster.client(node, transports=transports or (["websocket"] if i % 2 == 0 else ["polling"]))
        client.next("welcome")
        clients.append(client)
    return clients


def test_room_broadcast_reaches_every_client_exactly_once(cluster):
    cluster.start(3)
    clients = spread(cluster)
    members = clients[::2] + [clients[1]]          # on every node
    others = [c for c in clients if c not in members]
    for member in members:
        member.sio.call("join", "room1", timeout=5)

    sender = others[0]
    for n in range(5):
        sender.sio.emit("to-room", {"room": "room1", "event": "news", "args": [n, {"from": sender.node.name}]})
    for member in members:
        assert [member.next("news")[0] for _ in range(5)] == list(range(5)), "in order, each once"
        assert member.nothing("news", wait=0.3), "a duplicate arrived"
    for other in others:
        assert other.nothing("news", wait=0.1)

    # except(room), and socket.broadcast (all but the sender) across nodes
    others[1].sio.emit("except-room", {"room": "room1", "event": "outside", "args": []})
    for other in others:
        assert other.next("outside") == ()
    for member in members:
        assert member.nothing("outside", wait=0.1)
    members[0].sio.emit("broadcast", {"event": "shout", "args": ["all"]})
    for client in clients:
        if client is members[0]:
            assert client.nothing("shout", wait=0.3)
        else:
            assert client.next("shout") == ("all",)
            assert client.nothing("shout", wait=0.05)

    # a socket id is a room on whichever node the socket is
    target = clients[-1]
    clients[0].sio.emit("to-room", {"room": target.sid, "event": "direct", "args": ["psst"]})
    assert target.next("direct") == ("psst",)


def test_local_flag_stays_on_its_node(cluster):
    node1, node2 = cluster.start(2)
    a, b = cluster.client(node1), cluster.client(node2)
    for c in (a, b):
        c.next("welcome")
        c.sio.call("join", "here", timeout=5)
    assert a.sio.call("local-to-room", {"room": "here", "event": "local-news", "args": [1]}, timeout=5) is True
    assert a.next("local-news") == (1,)
    assert b.nothing("local-news", wait=0.5)


def test_broadcast_acks_are_aggregated_across_nodes(cluster):
    cluster.start(3)
    clients = spread(cluster, per_node=1)
    for i, client in enumerate(clients):
        client.sio.on("poll", lambda i=i: f"yes {i}")
        client.sio.call("join", "green", timeout=5)
    asker = cluster.client(cluster.nodes[0])
    asker.next("welcome")
    responses = asker.sio.call("ack-all", {"room": "green", "event": "poll", "timeout": 3000}, timeout=10)
    assert sorted(r[0] for r in responses) == ["yes 0", "yes 1", "yes 2"]
    assert asker.sio.call("ack-all", {"room": "nobody", "event": "poll", "timeout": 3000}, timeout=10) == []

    # a client on another node that never answers: the timeout, with the answers that came
    silent = cluster.client(cluster.nodes[2])
    silent.next("welcome")
    silent.sio.call("join", "green", timeout=5)
    silent.sio.on("poll", lambda: time.sleep(3) or "late")
    result = asker.sio.call("ack-all", {"room": "green", "event": "poll", "timeout": 1000}, timeout=10)
    assert result["error"] == "timeout"
    assert sorted(r[0] for r in result["responses"]) == ["yes 0", "yes 1", "yes 2"]


def test_fetch_sockets_sees_every_node_and_operates_on_remote_sockets(cluster):
    cluster.start(3)
    clients = spread(cluster, per_node=1)
    for i, client in enumerate(clients):
        assert client.sio.call("set-data", {"n": i}, timeout=5) is True
    clients[2].sio.call("join", "blue", timeout=5)

    details = clients[0].sio.call("fetch-details", timeout=10)
    assert [d["id"] for d in details] == sorted(c.sid for c in clients)
    by_id = {d["id"]: d for d in details}
    for i, client in enumerate(clients):
        assert by_id[client.sid]["data"] == {"n": i}
        assert by_id[client.sid]["address"] == "127.0.0.1"
        assert client.sid in by_id[client.sid]["rooms"]
    assert "blue" in by_id[clients[2].sid]["rooms"]
    assert [d["id"] for d in clients[0].sio.call("fetch-details", "blue", timeout=10)] == [clients[2].sid]

    # emit / join / leave / disconnect on a socket of another node
    target = clients[2]
    assert clients[0].sio.call("remote", {"op": "emit", "target": target.sid, "event": "hey", "args": [1, "x"]}, timeout=10)
    assert target.next("hey") == (1, "x")
    assert clients[0].sio.call("remote", {"op": "join", "target": target.sid, "room": "red"}, timeout=10)
    assert wait_until(lambda: "red" in target.sio.call("rooms", timeout=5))
    assert clients[0].sio.call("remote", {"op": "leave", "target": target.sid, "room": "red"}, timeout=10)
    assert wait_until(lambda: "red" not in target.sio.call("rooms", timeout=5))
    assert clients[0].sio.call("remote", {"op": "disconnect", "target": target.sid}, timeout=10)
    assert target.disconnect_reasons.get(timeout=5) == ("/", socketio.Client.reason.SERVER_DISCONNECT)


def test_sockets_join_leave_and_disconnect_across_nodes(cluster):
    cluster.start(3)
    clients = spread(cluster, per_node=1)
    for client in clients[:2]:
        client.sio.call("join", "team", timeout=5)
    ids = sorted(c.sid for c in clients[:2])
    boss = clients[2]
    assert boss.sio.call("fetch-sockets", "team", timeout=10) == ids
    assert boss.sio.call("sockets-join", {"room": "team", "target": "blue"}, timeout=5) is True
    assert wait_until(lambda: boss.sio.call("fetch-sockets", "blue", timeout=10) == ids)
    assert sorted(clients[0].sio.call("rooms", timeout=5)) == sorted([clients[0].sid, "team", "blue"])
    assert boss.sio.call("sockets-leave", {"room": "team", "target": "blue"}, timeout=5) is True
    assert wait_until(lambda: boss.sio.call("fetch-sockets", "blue", timeout=10) == [])
    boss.sio.emit("disconnect-room", "team")
    for client in clients[:2]:
        assert client.disconnect_reasons.get(timeout=5) == ("/", socketio.Client.reason.SERVER_DISCONNECT)
    assert boss.sio.connected


def test_server_side_emit_with_and_without_acks(cluster):
    cluster.start(3)
    clients = spread(cluster, per_node=1)
    assert clients[0].sio.call("server-count", timeout=5) == 3
    assert clients[0].sio.call("server-side-emit", {"event": "announce", "args": ["hello"]}, timeout=5) is True
    # the other nodes' listeners ran (they tell their own clients), not the sender's
    assert clients[1].next("announced") == ("hello", "node2")
    assert clients[2].next("announced") == ("hello", "node3")
    assert clients[0].nothing("announced", wait=0.5)
    answers = clients[0].sio.call("server-side-emit-ack", {"event": "whoami", "args": [], "timeout": 5000}, timeout=10)
    assert sorted(answers) == ["node2", "node3"]
    # no listener anywhere: no answers, the reference's timeout error
    result = clients[0].sio.call("server-side-emit-ack", {"event": "nobody-listens", "args": [], "timeout": 500}, timeout=10)
    assert result == {"error": "timeout reached: missing 2 responses", "responses": []}


def test_node_killed_is_dropped_and_requests_stop_waiting_for_it(cluster):
    node1, node2, node3 = cluster.start(3)
    a, b, c = (cluster.client(n) for n in (node1, node2, node3))
    for x in (a, b, c):
        x.next("welcome")
    node3.kill()
    killed_at = time.monotonic()
    # node3 is still counted: a request waits for it and fails with the reference's text
    result = a.sio.call("fetch-details", timeout=10)
    assert result == {"error": "timeout reached: missing 1 responses"}
    partial = a.sio.call("server-side-emit-ack", {"event": "whoami", "args": [], "timeout": 2500}, timeout=10)
    assert partial == {"error": "timeout reached: missing 1 responses", "responses": ["node2"]}
    # dropped at the heartbeat timeout (10 s of silence, swept every second)
    cluster.wait_server_count(node1, 2, timeout=15)
    assert time.monotonic() - killed_at < 14
    # and nobody waits for it any more
    started = time.monotonic()
    ids = {d["id"] for d in a.sio.call("fetch-details", timeout=10)}
    # (the server-count probes may still be leaving: only node3's socket must be gone)
    assert {a.sid, b.sid} <= ids and c.sid not in ids
    assert time.monotonic() - started < 2
    assert "cluster node dropped" in node1.log()


def test_node_stopped_says_goodbye_and_is_dropped_at_once(cluster):
    node1, node2 = cluster.start(2)
    node2.stop()
    cluster.wait_server_count(node1, 1, timeout=2)
    assert "cluster node left" in node1.log()


def test_large_and_binary_payloads_go_through_the_attachments_table(cluster, pg):
    cluster.start(2, extra=["--attachments-cleanup", "2000"])
    a, b = cluster.client(cluster.nodes[0]), cluster.client(cluster.nodes[1], transports=["polling"])
    for x in (a, b):
        x.next("welcome")
        x.sio.call("join", "big", timeout=5)
    large = "x" * 9000
    a.sio.emit("to-room", {"room": "big", "event": "large", "args": [large, {"n": 1}]})
    a.sio.emit("to-room", {"room": "big", "event": "bin", "args": [{"buf": b"\xde\xad\xbe\xef", "n": 2}]})
    a.sio.emit("to-room", {"room": "big", "event": "small", "args": ["after"]})
    assert b.next("large") == (large, {"n": 1})
    assert b.next("bin") == ({"buf": b"\xde\xad\xbe\xef", "n": 2},)
    assert b.next("small") == ("after",)
    assert a.next("large") == (large, {"n": 1})
    with pg.connect(cluster.database) as conn:
        rows = conn.execute("SELECT count(*) FROM socket_io_attachments").fetchone()[0]
        assert rows >= 2
        # cleaned up: rows older than the interval go at the next sweep
        assert wait_until(lambda: conn.execute("SELECT count(*) FROM socket_io_attachments").fetchone()[0] == 0,
                          timeout=10, step=0.5)


def test_postgres_restart_local_delivery_goes_on_and_cross_node_resumes(cluster, pg):
    node1, node2 = cluster.start(2)
    a, a2, b = cluster.client(node1), cluster.client(node1), cluster.client(node2)
    for x in (a, a2, b):
        x.next("welcome")
        x.sio.call("join", "r", timeout=5)
    a.sio.emit("to-room", {"room": "r", "event": "m", "args": ["before"]})
    assert b.next("m") == ("before",)

    pg.stop(remove=False)
    try:
        a.sio.emit("to-room", {"room": "r", "event": "m", "args": ["during"]})
        assert a2.next("m") == ("before",) and a2.next("m") == ("during",), "local delivery goes on"
        assert wait_until(lambda: "lost the PostgreSQL connection" in node1.log(), timeout=5)
        time.sleep(1)
    finally:
        pg.start()
    for node in (node1, node2):
        assert wait_until(lambda: "reconnected to PostgreSQL, listening again" in node.log(), timeout=15), node.name
    # delivery across nodes resumes (LISTEN again); what was sent while down may have gone
    deadline = time.monotonic() + 10
    got = None
    while time.monotonic() < deadline and got != ("after",):
        a.sio.emit("to-room", {"room": "r", "event": "m", "args": ["after"]})
        try:
            got = b.next("m", timeout=1)
        except AssertionError:
            pass
    assert got == ("after",)
    cluster.wait_server_count(node1, 2)


def test_an_emptied_dynamic_namespace_stops_listening_and_listens_again_when_it_returns(cluster, pg):
    """A dynamic namespace removed when its last socket leaves UNLISTENs its channel (one
    LISTEN per namespace name ever seen would grow without bound); the next socket of that
    name makes a new adapter that LISTENs again. Seen in PostgreSQL's own statement log."""
    with pg.connect() as conn:
        conn.execute("ALTER SYSTEM SET log_statement = 'all'")
        conn.execute("SELECT pg_reload_conf()")
    try:
        (node,) = cluster.start(1)
        namespace = "/dyn-4711"
        logged = lambda word: [line for line in pg.log_path.read_text(errors="replace").splitlines()
                               if f': {word} "' in line and namespace in line]
        first = cluster.client(node, namespaces=[namespace])
        assert first.next("welcome", namespace)[0]["namespace"] == namespace
        assert wait_until(lambda: len(logged("LISTEN")) == 1, timeout=5), logged("LISTEN")
        first.close()
        assert wait_until(lambda: len(logged("UNLISTEN")) == 1, timeout=5), \
            f"no UNLISTEN for {namespace}: {logged('LISTEN')}"

        again = cluster.client(node, namespaces=[namespace])
        assert again.next("welcome", namespace)[0]["namespace"] == namespace
        assert wait_until(lambda: len(logged("LISTEN")) == 2, timeout=5), logged("LISTEN")
        assert len(logged("UNLISTEN")) == 1
    finally:
        with pg.connect() as conn:
            conn.execute("ALTER SYSTEM RESET log_statement")
            conn.execute("SELECT pg_reload_conf()")
