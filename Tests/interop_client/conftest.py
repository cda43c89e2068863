"""Fixtures and hooks of the client interop tests live in client_support.py (a unique
module name: several test folders have a conftest.py, and pytest imports each as
`conftest`, so tests must not import from it)."""

from client_support import *  # noqa: F401,F403 (fixtures and hooks)
