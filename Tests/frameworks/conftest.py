"""Fixtures of the framework integration tests live in frameworks_support.py (a unique
module name: pytest imports every conftest.py as `conftest`, so tests must not import it)."""

from frameworks_support import *  # noqa: F401,F403 (fixtures)
