"""Fixtures of the cluster tests live in cluster_support.py (a unique module name: several
test folders have a conftest.py, and pytest imports each as `conftest`)."""

from cluster_support import *  # noqa: F401,F403 (fixtures)
