"""Helpers of the chat page's browser tests (test_chat_browser.py, test_chat_page.py)."""
import re
import time

from playwright.sync_api import expect

TIME_RE = re.compile(r"^\d\d:\d\d:\d\d$")


def wait_until(page, expression, timeout=10.0):
    """Polls a JavaScript expression from Python until it is truthy. The page's CSP forbids
    eval, which Playwright needs to poll a predicate inside the page; page.evaluate goes
    through the DevTools protocol instead."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"not true within {timeout} s: {expression}"
        time.sleep(0.05)


def my_name(page):
    """The name the server gave this page (type 3 `you`, then type 5 renames), read from the raw envelopes."""
    wait_until(page, "window.duplexChat.received.some(m => m.type === 3)")
    return page.evaluate(
        """() => {
            let me = null;
            for (const m of window.duplexChat.received) {
                if (m.type === 3) me = m.you;
                else if (m.type === 5 && m.previous === me) me = m.user;
            }
            return me;
        }"""
    )


def envelopes(page):
    return page.evaluate("window.duplexChat.received")


def colour(locator):
    """Computed CSS text colour of an element as (r, g, b)."""
    css = locator.evaluate("el => getComputedStyle(el).color")
    r, g, b = (int(float(x)) for x in re.findall(r"[\d.]+", css)[:3])
    return r, g, b


def luminance(rgb):
    def channel(c):
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(locator):
    """WCAG contrast ratio of an element's text against its own background colour."""
    fg = colour(locator)
    bg_css = locator.evaluate("el => getComputedStyle(el).backgroundColor")
    bg = tuple(int(float(x)) for x in re.findall(r"[\d.]+", bg_css)[:3])
    hi, lo = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def accent(locator, side="left"):
    """The colour of an element's accent border as (r, g, b)."""
    css = locator.evaluate(f"el => getComputedStyle(el).border{side.title()}Color")
    return tuple(int(float(x)) for x in re.findall(r"[\d.]+", css)[:3])


def assert_dominant(rgb, channel, what):
    """`channel` (0 = red, 1 = green, 2 = blue) clearly exceeds the other two."""
    others = [v for i, v in enumerate(rgb) if i != channel]
    assert all(rgb[channel] >= v + 40 for v in others), f"{what}: colour {rgb} is not {['red', 'green', 'blue'][channel]}"


def chat_lines(page):
    return page.locator("#messages .msg-chat")


def send_click(page, text):
    page.locator("#msg").fill(text)
    page.locator("#send").click()
    expect(page.locator("#msg")).to_have_value("")


def send_enter(page, text):
    page.locator("#msg").fill(text)
    page.locator("#msg").press("Enter")
    expect(page.locator("#msg")).to_have_value("")


def set_nick(page, name):
    page.locator("#nick").fill(name)
    page.locator("#nick-set").click()


def assert_clean(users):
    assert users.errors == [], f"JavaScript errors on the page: {users.errors}"
    assert users.dialogs == [], f"unexpected dialogs: {users.dialogs}"
