"""The README's "Add Socket.IO to your Hummingbird/Vapor app" snippets are the example
apps (which the other tests run) between their README markers, without the test-only
lines: so the snippets compile and work as shown."""

from __future__ import annotations

import re

import pytest

from duplex_process import REPO

APPS = {
    "Add Socket.IO to your Hummingbird app": "Sources/Examples/HummingbirdApp/main.swift",
    "Add Socket.IO to your Vapor app": "Sources/Examples/VaporApp/main.swift",
}


def snippet_of_app(path: str) -> list[str]:
    text = (REPO / path).read_text()
    region = text.split("// README begin\n", 1)[1].split("// README end\n", 1)[0]
    imports = [line for line in text.splitlines() if line.startswith("import ") and not line.endswith("// test-only")]
    body = [line for line in region.splitlines() if "// test-only" not in line]
    return imports + [""] + body


def snippet_in_readme(heading: str) -> list[str]:
    readme = (REPO / "README.md").read_text()
    match = re.search(rf"^#+ {re.escape(heading)}\n.*?```swift\n(import .*?)```", readme, re.S | re.M)
    assert match, f"README has no section {heading!r} with a swift block"
    return match.group(1).rstrip("\n").splitlines()


@pytest.mark.parametrize("heading", APPS)
def test_readme_snippet_is_the_example_app(heading):
    assert snippet_in_readme(heading) == snippet_of_app(APPS[heading])
