"""Fixtures of the chat-on-several-nodes tests live in chat_cluster_support.py (a unique
module name: several test folders have a conftest.py, and pytest imports each as `conftest`)."""

from chat_cluster_support import *  # noqa: F401,F403 (fixtures)
