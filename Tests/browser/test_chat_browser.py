"""The chat page in a real browser (Debian Chromium via Playwright) against the real `duplex chat` server.

Run from the repository root:  pytest -q Tests/browser   (fixtures and settings: conftest.py)
"""
import os
import re
import time
import shutil
from pathlib import Path

from playwright.sync_api import expect

# Same settings as conftest.py (not imported from it: another conftest module could shadow the name).
REPO = Path(__file__).resolve().parents[2]
ARTIFACT_DIR = Path(os.environ.get("ARTIFACT_DIR") or "/tmp/duplex-artifacts")
TIMEOUT_MS = 10_000

from chat_page_support import (  # noqa: F401
    TIME_RE, accent, assert_clean, assert_dominant, chat_lines, colour, contrast, envelopes, my_name, send_click,
    send_enter, set_nick, wait_until,
)

XSS = "<img src=x onerror=alert(1)>"


# --- tests -------------------------------------------------------------------------------------


def test_two_users_chat(users):
    a = users.open()
    name_a = my_name(a)
    expect(a.locator("#messages .msg-enter").last).to_contain_text(name_a)
    expect(a.locator("#online li")).to_have_text([name_a])
    expect(a.locator("#room-name")).to_have_text("general")

    b = users.open()
    name_b = my_name(b)
    assert name_a != name_b
    for page in (a, b):
        expect(page.locator("#online li")).to_have_text([name_a, name_b])
    expect(a.locator("#online li.me")).to_have_text(name_a)
    expect(b.locator("#online li.me")).to_have_text(name_b)

    # A is told that B entered: a green line
    enter_b = a.locator("#messages .msg-enter", has_text=name_b)
    expect(enter_b).to_have_count(1)
    assert_dominant(colour(enter_b), 1, "enter line")
    expect(enter_b.locator(".time")).to_have_text(TIME_RE)

    # A types and clicks Send; both see it: readable body text with the classic blue as
    # the bubble's accent; only A's copy is "mine"
    send_click(a, "hello from A")
    for page in (a, b):
        line = chat_lines(page).last
        expect(line).to_contain_text(f"{name_a}: hello from A")
        expect(line.locator(".time")).to_have_text(TIME_RE)
        assert contrast(line) >= 7, f"chat text contrast {contrast(line):.1f}"
        assert_dominant(accent(line, "right" if page is a else "left"), 2, "chat line accent")
    expect(chat_lines(a).last).to_have_class(re.compile(r"\bmine\b"))
    expect(chat_lines(b).last).not_to_have_class(re.compile(r"\bmine\b"))

    # B replies with the Enter key
    send_enter(b, "hi A, B here")
    expect(chat_lines(a).last).to_contain_text(f"{name_b}: hi A, B here")
    expect(chat_lines(a).last).not_to_have_class(re.compile(r"\bmine\b"))
    expect(chat_lines(b).last).to_have_class(re.compile(r"\bmine\b"))

    # Chinese and emoji (incl. a skin-tone modifier and a ZWJ sequence) round-trip unchanged
    unicode_text = "你好，世界！🎉👋🏽👩‍💻 中文消息 ✓"
    send_enter(b, unicode_text)
    for page in (a, b):
        expect(chat_lines(page).last.locator(".text")).to_have_text(unicode_text)
        expect(chat_lines(page).last).to_contain_text(f"{name_b}: {unicode_text}")
    texts = [m.get("text") for m in envelopes(a) if m["type"] == 2]
    assert texts == ["hello from A", "hi A, B here", unicode_text], texts

    ARTIFACT_DIR.mkdir(parents=True, exist_ok=True)
    a.screenshot(path=str(ARTIFACT_DIR / "chat-two-users.png"))

    # B closes the page: A sees a red leave line and only itself online
    users.close(b)
    leave_b = a.locator("#messages .msg-leave", has_text=name_b)
    expect(leave_b).to_have_count(1)
    assert_dominant(colour(leave_b), 0, "leave line")
    expect(a.locator("#online li")).to_have_text([name_a])

    # The raw envelopes keep the classic fields; order of the classic types as seen by A.
    # Presence updates are coalesced (200 ms), so wait for the one after the leave.
    wait_until(a, "() => { const r = window.duplexChat.received, m = r[r.length - 1];"
               " return m && m.type === 4 && Array.isArray(m.online) && m.online.length === 1; }")
    env = envelopes(a)
    for m in env:
        assert isinstance(m.get("type"), int) and isinstance(m.get("msg"), str), m
        assert TIME_RE.match(m.get("time", "")), m
    assert [m["type"] for m in env if m["type"] != 4] == [3, 0, 0, 2, 2, 2, 1], env
    assert env[0]["you"] == name_a and env[0]["room"] == "general", env[0]
    assert env[-1]["type"] == 4 and env[-1]["online"] == [name_a], env[-1]
    assert_clean(users)


def test_xss_is_shown_as_text(users):
    a = users.open()
    b = users.open()
    name_a = my_name(a)
    send_click(a, XSS)
    for page in (a, b):
        expect(chat_lines(page).last.locator(".text")).to_have_text(XSS)
        expect(chat_lines(page).last).to_contain_text(f"{name_a}: {XSS}")
        expect(page.locator("#messages img")).to_have_count(0)
    # HTML in a nickname is text too (in the online list, the rename line and chat lines)
    html_nick = "<b>Bob</b>"
    set_nick(b, html_nick)
    expect(a.locator("#online li")).to_have_text([name_a, html_nick])
    send_enter(b, "<script>alert(2)</script>")
    expect(chat_lines(a).last).to_contain_text(f"{html_nick}: <script>alert(2)</script>")
    for page in (a, b):
        expect(page.locator("#online b, #messages script, #messages img")).to_have_count(0)
    page_html = a.content()
    assert "<img src=x" not in page_html and "&lt;img src=x onerror=alert(1)&gt;" in page_html
    a.wait_for_timeout(300)  # an onerror handler would have fired by now
    assert_clean(users)


def test_nickname_change(users):
    a = users.open()
    b = users.open()
    old_a, name_b = my_name(a), my_name(b)
    set_nick(a, "Alice")
    for page in (a, b):
        expect(page.locator("#online li")).to_have_text(["Alice", name_b])
        expect(page.locator("#messages .msg-system", has_text=f"{old_a} is now Alice")).to_have_count(1)
    expect(a.locator("#online li.me")).to_have_text("Alice")
    assert my_name(a) == "Alice"
    assert "name=Alice" in a.url  # kept for reloads and reconnects
    # messages after the rename are still "mine" and carry the new name
    send_enter(a, "I am Alice now")
    expect(chat_lines(b).last).to_contain_text("Alice: I am Alice now")
    expect(chat_lines(a).last).to_have_class(re.compile(r"\bmine\b"))
    # a taken name (case-insensitive) and a too long one are refused with an inline error
    set_nick(b, "alice")
    expect(b.locator("#messages .msg-error")).to_have_count(1)
    expect(b.locator("#messages .msg-error").last.locator(".time")).to_have_text(TIME_RE)
    set_nick(b, "x" * 40)
    expect(b.locator("#messages .msg-error")).to_have_count(2)
    codes = [m.get("code") for m in envelopes(b) if m["type"] == 6]
    assert codes == ["nickname_taken", "bad_nickname"], codes
    assert_dominant(colour(b.locator("#messages .msg-error").last), 0, "error line")
    expect(a.locator("#online li")).to_have_text(["Alice", name_b])
    # a nickname in Chinese
    set_nick(b, "小明")
    expect(a.locator("#online li")).to_have_text(["Alice", "小明"])
    assert_clean(users)


def test_errors_are_inline_and_keep_the_connection(users):
    a = users.open()
    # over the limit: the text stays in the composer, the counter says why, nothing is sent
    a.locator("#msg").fill("y" * 2001)
    expect(a.locator("#counter")).to_have_text("2001 / 2000")
    expect(a.locator("#counter")).to_have_class(re.compile(r"\bover\b"))
    assert_dominant(colour(a.locator("#counter")), 0, "counter over the limit")
    expect(a.locator("#send")).to_be_disabled()
    a.locator("#msg").press("Enter")
    expect(a.locator("#msg")).to_have_value("y" * 2001)
    a.locator("#msg").fill("y" * 2000)
    expect(a.locator("#counter")).to_have_text("2000 / 2000")
    expect(a.locator("#send")).to_be_enabled()
    # a refusal by the server (the rate limit: 20 per 5 s) is shown inline, the text comes
    # back to the composer, and the connection stays
    for i in range(20):
        send_enter(a, f"m{i}")
    a.locator("#msg").fill("one too many")
    a.locator("#msg").press("Enter")
    expect(a.locator("#messages .msg-error")).to_have_count(1)
    expect(a.locator("#messages .msg-error")).to_contain_text("slow down")
    expect(a.locator("#msg")).to_have_value("one too many")
    expect(a.locator("#status")).to_have_attribute("data-state", "open")
    expect(chat_lines(a)).to_have_count(20)
    assert [m.get("code") for m in envelopes(a) if m["type"] == 6] == ["rate_limited"]
    assert_clean(users)


def test_switch_room(users):
    a = users.open()
    b = users.open()
    name_a, name_b = my_name(a), my_name(b)
    send_enter(b, "only in general")
    expect(chat_lines(a)).to_have_count(1)

    a.locator("#room-input").fill("random")
    a.locator("#room-join").click()
    expect(a.locator("#room-name")).to_have_text("random")
    expect(a.locator("#online li")).to_have_text([name_a])
    expect(chat_lines(a)).to_have_count(0)  # the list was cleared; "random" has no history
    assert "room=random" in a.url
    expect(b.locator("#messages .msg-leave", has_text=name_a)).to_have_count(1)
    expect(b.locator("#online li")).to_have_text([name_b])

    send_enter(b, "general only, again")
    send_enter(a, "hello random")
    expect(chat_lines(a)).to_have_count(1)
    expect(chat_lines(a).last).to_contain_text("hello random")
    expect(chat_lines(b).last).to_contain_text("general only, again")
    expect(chat_lines(b)).to_have_count(2)

    # an invalid room name is refused inline; the page stays in "random"
    a.locator("#room-input").fill("no spaces allowed")
    a.locator("#room-join").click()
    expect(a.locator("#messages .msg-error")).to_have_count(1)
    expect(a.locator("#room-name")).to_have_text("random")

    # the page's own ?room= picks the room
    c = users.open("?room=random")
    expect(c.locator("#room-name")).to_have_text("random")
    expect(c.locator("#online li")).to_have_text([name_a, my_name(c)])
    expect(chat_lines(c)).to_have_count(1)  # history of "random" only
    assert_clean(users)


def test_history_on_join(users):
    a = users.open()
    name_a = my_name(a)
    send_enter(a, "first")
    send_enter(a, "second 第二")
    expect(chat_lines(a)).to_have_count(2)
    b = users.open()
    expect(chat_lines(b)).to_have_count(2)
    expect(chat_lines(b).locator(".text")).to_have_text(["first", "second 第二"])
    expect(chat_lines(b).first).to_contain_text(f"{name_a}: first")
    expect(chat_lines(b).first).to_have_class(re.compile(r"\bhistory\b"))
    # history is not faded: full opacity and the same readable contrast as live messages
    assert chat_lines(b).first.evaluate("el => getComputedStyle(el).opacity") == "1"
    assert contrast(chat_lines(b).first) >= 7
    assert all(m.get("history") for m in envelopes(b) if m["type"] == 2)
    assert_clean(users)


def test_labels_follow_browser_language(users):
    en = users.open(locale="en-US")
    expect(en.locator("#send")).to_have_text("Send")
    expect(en.locator("#online-label")).to_have_text("Online")
    expect(en.locator("#status")).to_have_text("Connected")
    zh = users.open(locale="zh-CN")
    expect(zh.locator("#send")).to_have_text("发送")
    expect(zh.locator("#online-label")).to_have_text("在线")
    expect(zh.locator("#status")).to_have_text("已连接")
    assert zh.evaluate("document.documentElement.lang") == "zh-CN"
    # server-generated text stays exactly as the server sent it (not translated)
    wait_until(zh, "window.duplexChat.received.some(m => m.type === 0)")
    enter = [m for m in envelopes(zh) if m["type"] == 0][-1]
    expect(zh.locator("#messages .msg-enter .text").last).to_have_text(enter["msg"])
    assert_clean(users)


def test_reconnects_after_server_restart(users, chat_server):
    a = users.open("?name=Alice")
    assert my_name(a) == "Alice"
    code = chat_server.stop()
    assert code == 0, f"server exit code {code} on SIGTERM"
    expect(a.locator("#status")).to_have_attribute("data-state", re.compile("^(closed|reconnecting)$"))
    assert a.evaluate("window.duplexChat.closes") == [1001]  # graceful shutdown: "going away"
    expect(a.locator("#send")).to_be_disabled()
    chat_server.start()
    # back-off starts at 0.5 s and doubles (max 10 s): allow a few attempts
    expect(a.locator("#status")).to_have_attribute("data-state", "open", timeout=3 * TIMEOUT_MS)
    expect(a.locator("#online li")).to_have_text(["Alice"])  # the nickname is kept (URL ?name=)
    send_enter(a, "back again")
    expect(chat_lines(a).last).to_contain_text("Alice: back again")
    assert_clean(users)


def test_reconnect_after_a_drop_does_not_duplicate_history(users):
    a = users.open()
    b = users.open()
    send_enter(a, "one")
    expect(chat_lines(b)).to_have_count(1)  # B answers what it saw: the order is fixed
    send_enter(b, "two")
    expect(chat_lines(a)).to_have_count(2)
    a.evaluate("window.duplexChat.socket.close()")  # the page reconnects on any close
    wait_until(a, "window.duplexChat.received.filter(m => m.type === 3).length === 2")
    expect(a.locator("#status")).to_have_attribute("data-state", "open")
    expect(a.locator("#online li")).to_have_count(2)
    expect(a.locator("#online li.me")).to_have_text(my_name(a))
    expect(a.locator("#messages .divider:not(.day)")).to_have_count(1)
    # the history replayed on the new welcome is not shown twice
    assert sum(1 for m in envelopes(a) if m["type"] == 2 and m.get("history")) == 2
    expect(chat_lines(a)).to_have_count(2)
    send_enter(b, "three")
    expect(chat_lines(a)).to_have_count(3)
    expect(chat_lines(a).locator(".text")).to_have_text(["one", "two", "three"])
    assert_clean(users)


def test_screenshot(users):
    """A nice state for the README (docs/chat-screenshot.png with DUPLEX_UPDATE_SCREENSHOT=1)."""
    a = users.open("?name=Alice", viewport=(1000, 700))
    b = users.open("?name=" + "李雷", viewport=(390, 800))
    expect(a.locator("#online li")).to_have_text(["Alice", "李雷"])
    conversation = [
        (a, "Hi! The new build is live, try it from your phone."),
        (b, "你好！我在手机上打开了，消息几乎是实时的。"),
        (a, "Nice. Reconnect works too: restart the server and watch the status pill."),
        (b, "试过了，断线后几秒就自动重连。"),
        (a, "Shipping it today."),
    ]
    for i, (page, text) in enumerate(conversation, 1):
        send_enter(page, text)
        expect(chat_lines(a)).to_have_count(i)
        expect(chat_lines(b)).to_have_count(i)
    for page in (a, b):
        page.locator("#msg").blur()
    ARTIFACT_DIR.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACT_DIR / "chat.png"
    a.screenshot(path=str(shot))
    b.screenshot(path=str(ARTIFACT_DIR / "chat-phone.png"))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    if os.environ.get("DUPLEX_UPDATE_SCREENSHOT") == "1":
        target = REPO / "docs" / "chat-screenshot.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target)
    assert_clean(users)


def test_page_and_python_socketio_client_chat(users, chat_server):
    """The chat page (WebSocket) and a python-socketio client share one room."""
    import threading

    import socketio

    page = users.open()
    name = my_name(page)
    received, arrived = [], threading.Event()
    sio = socketio.Client(reconnection=False)

    @sio.on("chat message")
    def on_message(envelope):
        received.append(envelope)
        arrived.set()

    sio.connect(chat_server.url.rstrip("/"), transports=["polling", "websocket"], auth={"name": "Py Sio"})
    try:
        expect(page.locator("#online li")).to_have_text([name, "Py Sio"])
        sio.emit("chat message", "hi from python-socketio 你好")
        expect(chat_lines(page).last).to_contain_text("Py Sio: hi from python-socketio 你好")
        expect(chat_lines(page).last).not_to_have_class(re.compile(r"\bmine\b"))

        send_click(page, "hello, Socket.IO")
        deadline = time.monotonic() + 10
        while not any(e.get("text") == "hello, Socket.IO" for e in received):
            assert time.monotonic() < deadline, f"python-socketio never got the page's message: {received}"
            arrived.wait(0.2)
            arrived.clear()
        message = next(e for e in received if e.get("text") == "hello, Socket.IO")
        assert message["msg"] == f"{name}: hello, Socket.IO" and message["type"] == 2
    finally:
        sio.disconnect()
    expect(page.locator("#messages .msg-leave", has_text="Py Sio")).to_have_count(1)
    expect(page.locator("#online li")).to_have_text([name])
    assert_clean(users)
