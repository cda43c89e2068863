"""The chat page's newer behaviour in Chromium against the real `duplex chat`: identity kept
across reloads and restarts, an invalid room said so, local times with day separators, the
"new messages" marker, collapsed enter/leave floods, readable styling, clickable links and a
phone header that fits. Fixtures: conftest.py; helpers: chat_page_support.py."""
import asyncio
import json
import re
import sqlite3
import threading
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from websockets.asyncio.client import connect

from chat_page_support import (
    TIME_RE, accent, assert_clean, assert_dominant, chat_lines, colour, contrast, envelopes, my_name, send_enter,
    set_nick, wait_until,
)


def my_uid(page):
    wait_until(page, "window.duplexChat.received.some(m => m.type === 3)")
    return [m for m in envelopes(page) if m["type"] == 3][-1]["uid"]


def python_clients(server, count, room="general", say=(), close=True):
    """`count` classic WebSocket clients (Python websockets) join, each says `say`, then leave."""
    async def run():
        sockets = []
        for _ in range(count):
            ws = await connect(f"ws://127.0.0.1:{server.port}/?room={room}")
            while json.loads(await ws.recv())["type"] != 3:
                pass
            sockets.append(ws)
        async def drain(ws):
            async for _ in ws:
                pass

        readers = [asyncio.create_task(drain(ws)) for ws in sockets]
        for ws in sockets:
            for text in say:
                await ws.send(text)
        if close:
            await asyncio.sleep(0.3)
            for ws in sockets:
                await ws.close()
            await asyncio.gather(*readers)

    # in a thread of its own: Playwright's sync API keeps an event loop in this one
    errors = []
    thread = threading.Thread(target=lambda: _catch(errors, lambda: asyncio.run(run())))
    thread.start()
    thread.join(30)
    assert not thread.is_alive() and not errors, errors


def _catch(errors, body):
    try:
        body()
    except Exception as error:  # reported by the caller
        errors.append(error)


# --- identity --------------------------------------------------------------------------------


def test_a_reload_keeps_the_identity_and_own_messages(users):
    a = users.open()
    set_nick(a, "Zoe")
    expect(a.locator("#online li.me")).to_have_text("Zoe")
    uid = my_uid(a)
    send_enter(a, "before the reload")
    # the URL's ?name= is not what keeps it: drop it
    a.goto(users.server.url)
    expect(a.locator("#status")).to_have_attribute("data-state", "open")
    assert my_name(a) == "Zoe" and my_uid(a) == uid
    # the history line is "mine": decided by identity
    expect(chat_lines(a)).to_have_count(1)
    expect(chat_lines(a).first).to_have_class(re.compile(r"\bmine\b"))
    # another browser (its own storage) is another person, with another name
    b = users.open()
    assert my_name(b) != "Zoe" and my_uid(b) != uid
    expect(chat_lines(b).first).not_to_have_class(re.compile(r"\bmine\b"))
    assert_clean(users)


@pytest.mark.sqlite_chat
def test_a_server_restart_keeps_the_identity(users, chat_server):
    a = users.open()
    set_nick(a, "Kim")
    expect(a.locator("#online li.me")).to_have_text("Kim")
    uid = my_uid(a)
    send_enter(a, "written before the restart")
    assert chat_server.stop() == 0
    chat_server.start()
    expect(a.locator("#status")).to_have_attribute("data-state", "open", timeout=30_000)
    wait_until(a, "window.duplexChat.received.filter(m => m.type === 3).length === 2")
    assert my_uid(a) == uid and my_name(a) == "Kim"
    # a reload after the restart too, with the name gone from the URL
    a.goto(chat_server.url)
    expect(a.locator("#online li.me")).to_have_text("Kim")
    expect(chat_lines(a).first).to_have_class(re.compile(r"\bmine\b"))
    # a newcomer after the restart is not handed an old identity
    b = users.open()
    assert my_uid(b) != uid and my_name(b) != "Kim"
    expect(chat_lines(b).first).not_to_have_class(re.compile(r"\bmine\b"))
    assert_clean(users)


# --- composer, room, times -------------------------------------------------------------------


def test_an_invalid_room_in_the_url_says_so(users):
    a = users.open("?room=no%20spaces!")
    expect(a.locator("#room-name")).to_have_text("general")
    error = a.locator("#messages .msg-error.bad-room")
    expect(error).to_have_count(1)
    expect(error).to_contain_text("“no spaces!”")
    expect(error).to_contain_text("#general")
    assert "room=general" in a.url
    assert_clean(users)


@pytest.mark.sqlite_chat
def test_times_are_the_readers_local_time_with_day_separators(users, chat_server, tmp_path):
    # history from other days, written straight into the store while the server is down
    chat_server.stop()
    zone = ZoneInfo("Pacific/Kiritimati")  # UTC+14: never the server's zone
    now = datetime.now(zone)
    old = [(now - timedelta(days=3)).replace(hour=9, minute=5, second=7), (now - timedelta(days=1)).replace(hour=23, minute=59, second=1)]
    with sqlite3.connect(tmp_path / "chat.sqlite") as db:
        for i, moment in enumerate(old):
            db.execute("INSERT INTO messages (room, user, text, ts) VALUES ('general', 'Old Timer', ?, ?)",
                       (f"old {i}", int(moment.timestamp() * 1000)))
    chat_server.start()
    a = users.open(timezone="Pacific/Kiritimati")
    send_enter(a, "today's")
    expect(chat_lines(a)).to_have_count(3)
    days = a.locator("#messages .divider.day")
    expect(days).to_have_count(3)
    expect(days.nth(1)).to_have_text("Yesterday")
    expect(days.nth(2)).to_have_text("Today")
    expect(days.nth(0)).to_contain_text(str(old[0].day))
    # each time is the instant (`ts`) in the reader's zone, not the server's `time`
    for line, moment in zip(chat_lines(a).all()[:2], old):
        expect(line.locator(".time")).to_have_text(moment.strftime("%H:%M:%S"))
    sent = [m for m in envelopes(a) if m["type"] == 2 and m.get("text") == "today's"][0]
    local = datetime.fromtimestamp(sent["ts"] / 1000, zone).strftime("%H:%M:%S")
    expect(chat_lines(a).last.locator(".time")).to_have_text(local)
    assert TIME_RE.match(sent["time"])  # the classic field is still there for old clients
    assert_clean(users)


# --- scrolling and floods --------------------------------------------------------------------


def test_new_messages_marker_when_scrolled_up(users, chat_server):
    python_clients(chat_server, 3, say=[f"filler {i}" for i in range(12)])
    a = users.open(viewport=(800, 500))
    expect(chat_lines(a)).to_have_count(36)
    marker = a.locator("#new-marker")
    expect(marker).to_be_hidden()
    a.locator("#messages").evaluate("el => { el.scrollTop = 0; }")
    python_clients(chat_server, 1, say=["while you were reading"])
    expect(marker).to_be_visible()
    expect(marker).to_contain_text("1 new message")
    assert a.locator("#messages").evaluate("el => el.scrollTop") < 50, "reading position kept"
    marker.click()
    expect(marker).to_be_hidden()
    wait_until(a, "(() => { const l = document.getElementById('messages'); return l.scrollHeight - l.scrollTop - l.clientHeight < 5; })()")
    # at the bottom, new messages just scroll in
    python_clients(chat_server, 1, say=["at the bottom"])
    expect(chat_lines(a).last).to_contain_text("at the bottom")
    expect(marker).to_be_hidden()
    assert_clean(users)


def test_enter_and_leave_floods_collapse(users, chat_server):
    a = users.open()
    python_clients(chat_server, 8)  # 8 arrive, then all 8 leave: 16 events
    wait_until(a, "window.duplexChat.received.filter(m => m.type === 1).length === 8")
    groups = a.locator("#messages .msg-presence")
    expect(groups).to_have_count(1)
    expect(groups.first).to_contain_text("others")
    expect(groups.first).to_contain_text("entered")
    expect(groups.first).to_contain_text("left")
    # a reconnect after a drop: the room sees one "came back" line, not a leave and an enter
    b = users.open()
    name_b = my_name(b)
    send_enter(a, "a line between")
    b.evaluate("window.duplexChat.socket.close()")
    wait_until(b, "window.duplexChat.received.filter(m => m.type === 3).length === 2")
    # The server sees the new connection and the old one's close in either order: close
    # first gives a leave and an enter (shown as one "came back" line); the new one first
    # means the person never left (no line at all). Never a separate "left" line.
    send_enter(a, "after the reconnect")
    expect(chat_lines(a).last).to_contain_text("after the reconnect")
    back = a.locator("#messages .msg-chat ~ .msg-presence")
    assert back.count() <= 1
    if back.count():
        expect(back).to_contain_text(f"{name_b} came back")
        expect(back).not_to_contain_text("left")
    assert_clean(users)


# --- styling ---------------------------------------------------------------------------------


def test_readable_grouped_coloured_messages_with_safe_links(users):
    a = users.open()
    b = users.open()
    send_enter(a, "first of two")
    send_enter(a, "see https://example.com/a?b=1, or javascript:alert(1) or http://x.test/p.")
    send_enter(b, "reply")
    lines = chat_lines(b)
    expect(lines).to_have_count(3)
    first, second, reply = lines.nth(0), lines.nth(1), lines.nth(2)
    # text is body-coloured (not link-blue) with AA contrast; the bubble keeps a blue accent
    for line in (first, reply):
        assert contrast(line) >= 7
        rgb = colour(line)
        assert not (rgb[2] > rgb[0] + 40 and rgb[2] > rgb[1] + 40), f"message text is blue: {rgb}"
    assert_dominant(accent(first), 2, "message accent")
    # consecutive messages of one person: the name once
    expect(second).to_have_class(re.compile(r"\bcont\b"))
    expect(second.locator(".who")).to_be_hidden()
    expect(first.locator(".who")).to_be_visible()
    # a colour per person
    assert colour(first.locator(".who")) != colour(b.locator("#messages .msg-chat.mine .who").first)
    # links: http(s) only, opened without access to the page
    links = second.locator("a")
    expect(links).to_have_count(2)
    expect(links.nth(0)).to_have_attribute("href", "https://example.com/a?b=1")
    expect(links.nth(1)).to_have_attribute("href", "http://x.test/p")
    for i in range(2):
        expect(links.nth(i)).to_have_attribute("rel", re.compile(r"\bnoopener\b"))
        expect(links.nth(i)).to_have_attribute("target", "_blank")
    expect(second.locator(".text")).to_contain_text("javascript:alert(1)")
    # classic accents: green enter, red leave
    users.close(a)
    leave = b.locator("#messages .msg-leave").last
    expect(leave).to_be_visible()
    assert_dominant(colour(leave), 0, "leave line")
    assert_clean(users)


def test_the_phone_header_fits_while_reconnecting(users, chat_server):
    a = users.open("?room=a-rather-long-room-name", viewport=(360, 740))
    chat_server.stop()
    expect(a.locator("#status")).to_have_attribute("data-state", re.compile("^(closed|reconnecting)$"))
    expect(a.locator("#status")).to_have_attribute("data-state", "reconnecting")
    header = a.locator("header")
    assert header.evaluate("el => el.scrollWidth <= el.clientWidth"), "the header overflows"
    assert a.evaluate("document.documentElement.scrollWidth") <= 360
    box = a.locator("#status").bounding_box()
    assert box["x"] + box["width"] <= 360
    expect(a.locator("#status")).to_have_attribute("title", re.compile("Reconnecting|retry"))
    chat_server.start()
    assert_clean(users)
