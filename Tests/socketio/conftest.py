"""Fixtures and hooks of the Socket.IO interop tests live in socketio_support.py (a unique
module name: several test folders have a conftest.py, and pytest imports each as
`conftest`, so tests must not import from it)."""

from socketio_support import *  # noqa: F401,F403 (fixtures and hooks)
