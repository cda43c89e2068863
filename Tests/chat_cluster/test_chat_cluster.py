"""`duplex chat` on three nodes through PostgreSQL, behind nginx: one chat whatever node a
client lands on or loses."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time

import pytest

from chat_cluster_clients import SioPerson, WsPerson
from chat_cluster_support import (DUPLEX_BIN, PRESENCE_TIMEOUT, ChatNode, eventually, free_port, run_async)

pytestmark = pytest.mark.timeout(240)


async def all_have(people, count: int, timeout: float = 20.0) -> None:
    await eventually(lambda: all(len(p.transcript.by_id) >= count for p in people), timeout,
                     f"{count} messages at every client: " + ", ".join(f"{p.name}={len(p.transcript.by_id)}" for p in people))


def test_messages_reach_every_node_in_the_database_order(cluster):
    """Clients on all three nodes talk at once: every client gets every message, live ones in
    the database's id order, and the same list as the database."""
    room = "order"

    async def scenario():
        people = [await WsPerson(cluster.lb.ws_url, room, f"ws{i}").start() for i in range(6)]
        assert [node.members() for node in cluster.nodes] == [2, 2, 2], "round-robin spreads the clients"

        async def talk(person, n):
            for k in range(n):
                await person.ws.send(f"{person.name} says {k}")
        await asyncio.gather(*(talk(p, 8) for p in people))
        await all_have(people, 48)
        expected = cluster.db_messages(room)
        assert len(expected) == 48 and [m[0] for m in expected] == list(range(1, 49))
        for person in people:
            assert person.transcript.messages() == expected, person.name
            assert person.transcript.live_order() == list(range(1, 49)), f"{person.name} got them out of order"
        for person in people:
            await person.close()

    run_async(scenario)


def find_chromium() -> str:
    import os
    import shutil
    for candidate in (os.environ.get("CHROMIUM_BIN"), "/usr/lib/chromium/chromium", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail("chromium not found: run shared/browser/install (apt-get install chromium) or set CHROMIUM_BIN")


def test_a_node_killed_mid_conversation_loses_nothing(cluster):
    """WebSocket, Socket.IO (WebSocket and long-polling) and page clients on every node; the
    busiest node is killed (SIGKILL); its clients reconnect through nginx; everyone ends with
    the same messages, in the same order, as the database."""
    from playwright.async_api import async_playwright
    room = "team"
    chromium = find_chromium()

    async def scenario():
        ws = [await WsPerson(cluster.lb.ws_url, room, f"ws{i}").start() for i in range(6)]
        sio = [await SioPerson(cluster.lb.url, room, f"sio{i}", ["websocket"]).start() for i in range(3)]
        polling = [await SioPerson(cluster.sticky.url, room, f"poll{i}", ["polling"]).start() for i in range(2)]
        everyone = ws + sio + polling
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
            page = await (await browser.new_context()).new_page()
            await page.goto(f"{cluster.lb.url}/?room={room}")
            await page.wait_for_function("document.querySelector('#msg') && !document.querySelector('#msg').disabled")
            await eventually(lambda: sum(node.members() for node in cluster.nodes) == len(everyone) + 1, 10, "the page's arrival")
            spread = [node.members() for node in cluster.nodes]
            assert all(n >= 2 for n in spread), spread

            async def page_say(text):
                await page.fill("#msg", text)
                await page.press("#msg", "Enter")
                await page.wait_for_function("t => [...document.querySelectorAll('#messages .msg-chat .text')]"
                                             ".some(e => e.textContent === t)", arg=text, timeout=15000)

            async def page_ids():
                return await page.eval_on_selector_all("#messages .msg-chat", "els => els.map(e => Number(e.dataset.id))")

            for round_ in range(2):
                for person in everyone:
                    await person.say(f"{person.name} before {round_}")
            await page_say("page before")
            await all_have(everyone, 2 * len(everyone) + 1)

            victim = max(cluster.nodes, key=lambda node: node.members())
            on_victim = victim.members()
            victim.kill()
            # The page and every client on the victim come back through nginx.
            await asyncio.sleep(1.0)
            for round_ in range(2):
                for person in everyone:
                    await person.say(f"{person.name} after {round_}")
            await page_say("page after")
            total = 4 * len(everyone) + 2
            await all_have(everyone, total, timeout=30)

            expected = cluster.db_messages(room)
            assert len(expected) == total, "a confirmed message is in the database, once"
            for person in everyone:
                assert person.transcript.messages() == expected, person.name
                live = person.transcript.live_order()
                assert live == sorted(live) and len(set(live)) == len(live), f"{person.name}: live messages out of order"
            for _ in range(200):
                if len(await page_ids()) >= total:
                    break
                await asyncio.sleep(0.05)
            assert await page_ids() == [m[0] for m in expected], "the page shows the database's messages in order"
            # Everyone who was on the dead node came back (through nginx, to another node).
            page_welcomes = await page.evaluate("window.duplexChat.received.filter(m => m.type === 3).length")
            came_back = (sum(1 for p in ws if p.reconnections > 0) + sum(1 for p in sio + polling if len(p.welcomes) > 1)
                         + (1 if page_welcomes > 1 else 0))
            assert came_back >= on_victim >= 2, (came_back, on_victim)
            survivors = [node for node in cluster.nodes if node is not victim]
            assert sum(node.members() for node in survivors) == len(everyone) + 1
            await browser.close()
        for person in everyone:
            await person.close()

    run_async(scenario)


def test_presence_counts_every_node_and_a_dead_nodes_people_leave(cluster):
    """Presence counts people on all nodes; enter and leave reach every node once; the
    people of a killed node leave after the presence timeout."""
    room = "lobby"
    a, b, c = cluster.nodes

    async def scenario():
        ann = await WsPerson(f"ws://{a.address}", room, "Ann").start()
        bob = await WsPerson(f"ws://{b.address}", room, "Bob").start()
        cid = await WsPerson(f"ws://{c.address}", room, "Cid").start()

        def last_presence(person):
            found = [e for e in person.transcript.events if e.get("type") == 4]
            return found[-1] if found else None

        for person in (ann, bob, cid):
            await eventually(lambda p=person: (last_presence(p) or {}).get("count") == 3, 10, f"{person.name} counts 3")
            assert sorted(last_presence(person)["online"]) == ["Ann", "Bob", "Cid"]
        # Each arrival announced once to those already there, whatever their node.
        def entered(person):
            return sorted(e["user"] for e in person.transcript.events if e.get("type") == 0 and e["user"] != person.name)
        assert entered(ann) == ["Bob", "Cid"]
        assert entered(bob) == ["Cid"], [(e.get("type"), e.get("user"), e.get("count"), e.get("ts")) for e in bob.transcript.events]
        assert entered(cid) == []

        # A name held on another node is taken here too.
        rival = await WsPerson(f"ws://{a.address}", room, "Cid").start()
        assert rival.welcomes[0]["you"] != "Cid"
        await rival.close()

        # Node c dies: Cid leaves, for Ann and Bob, once, after the timeout (not at once).
        cid.closing = True
        killed_at = time.monotonic()
        c.kill()
        for person in (ann, bob):
            await eventually(lambda p=person: (last_presence(p) or {}).get("count") == 2, PRESENCE_TIMEOUT + 10,
                             f"{person.name} counts 2")
            left = [e for e in person.transcript.events if e.get("type") == 1 and e.get("user") == "Cid"]
            assert len(left) == 1, person.name
        assert time.monotonic() - killed_at >= PRESENCE_TIMEOUT - 1.0
        await ann.close()
        await bob.close()

    run_async(scenario)


def test_postgres_restarted_mid_run(cluster):
    """PostgreSQL restarts: the nodes reconnect and catch up; a message sent while it was
    down is stored once it is back; every client ends with the database's messages."""
    room = "restart"

    async def scenario():
        people = [await WsPerson(f"ws://{node.address}", room, f"p{i}").start() for i, node in enumerate(cluster.nodes)]
        for person in people:
            await person.say(f"{person.name} before")
        await all_have(people, 3)
        await asyncio.to_thread(cluster.pg.stop, "fast", False)
        await people[0].ws.send("sent while PostgreSQL is down")
        await asyncio.sleep(1.0)
        await asyncio.to_thread(cluster.pg.start)
        for node in cluster.nodes:
            await eventually(lambda n=node: "reconnected to PostgreSQL, listening again" in n.log(), 20, f"{node.name} reconnects")
        for person in people:
            await person.say(f"{person.name} after")
        await all_have(people, 7, timeout=20)
        expected = cluster.db_messages(room)
        assert len(expected) == 7
        for person in people:
            assert person.transcript.messages() == expected, person.name
            assert person.transcript.live_order() == [m[0] for m in expected]
        for person in people:
            await person.close()

    run_async(scenario)


def test_sigterm_with_postgres_down_finishes_within_5_seconds(cluster):
    """What waits for PostgreSQL (a message sent while it is down) does not hold the
    shutdown: the node gives up on it after 2 s and exits."""
    node = cluster.nodes[0]

    async def scenario():
        person = await WsPerson(f"ws://{node.address}", "down", "Ann").start()
        await person.say("before")
        await asyncio.to_thread(cluster.pg.stop, "fast", False)
        try:
            await person.ws.send("while PostgreSQL is down")
            await asyncio.sleep(0.5)
            person.closing = True
            started = time.monotonic()
            node.proc.send_signal(signal.SIGTERM)
            status = await asyncio.to_thread(node.proc.wait, 15)
            assert status == 0 and time.monotonic() - started < 5, time.monotonic() - started
            await person.close()
        finally:
            await asyncio.to_thread(cluster.pg.start)

    run_async(scenario)


def test_postgres_unreachable_at_start_exits_with_a_clear_error():
    port = free_port()  # nothing listens there
    started = time.monotonic()
    result = subprocess.run([DUPLEX_BIN, "chat", "--port", "0", "--postgres", f"postgres://app:secret@127.0.0.1:{port}/chat"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "cannot use PostgreSQL" in output and f"127.0.0.1:{port}" in output, output
    assert "secret" not in output, "the password is not printed"
    assert time.monotonic() - started < 30


def test_postgres_url_from_the_environment(pg):
    """DUPLEX_CHAT_POSTGRES works as --postgres does (here: a bad URL is refused by name)."""
    import os
    result = subprocess.run([DUPLEX_BIN, "chat", "--port", "0"], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "DUPLEX_CHAT_POSTGRES": "mysql://nope"})
    assert result.returncode != 0
    assert "not a postgres:// URL" in result.stdout + result.stderr
