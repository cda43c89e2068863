"""An independent peer of the Socket.IO cluster protocol on PostgreSQL
(docs/cluster.md, ../shared/cluster/postgres-adapter-protocol.md), written from the
documented format with psycopg and msgpack from PyPI, not from Duplex's code: it publishes
as Node's emitter and adapter do, and reads and decodes what the Duplex nodes publish.

    peer = ClusterPeer(pg_url, namespace="/")            # LISTENs on "socket.io#/"
    peer.emit("chat", "hi", rooms=["room1"])             # as @socket.io/postgres-emitter
    peer.publish({"type": 1, "uid": peer.uid, "nsp": "/"})  # as an adapter node
    msg = peer.next_message(lambda m: m["type"] == 3)    # decoded (attachments read)
"""

from __future__ import annotations

import json
import os
import select
import time

import msgpack
import psycopg

BROADCAST, SOCKETS_JOIN, SOCKETS_LEAVE, DISCONNECT_SOCKETS = 3, 4, 5, 6
FETCH_SOCKETS, FETCH_SOCKETS_RESPONSE, SERVER_SIDE_EMIT, SERVER_SIDE_EMIT_RESPONSE = 7, 8, 9, 10
INITIAL_HEARTBEAT, HEARTBEAT, BROADCAST_CLIENT_COUNT, BROADCAST_ACK, ADAPTER_CLOSE = 1, 2, 11, 12, 13
THRESHOLD = 8000
TABLE = "socket_io_attachments"


def has_binary(value) -> bool:
    if isinstance(value, (bytes, bytearray)):
        return True
    if isinstance(value, list):
        return any(has_binary(v) for v in value)
    if isinstance(value, dict):
        return any(has_binary(v) for v in value.values())
    return False


class ClusterPeer:
    def __init__(self, url: str, namespace: str = "/", prefix: str = "socket.io", uid: str | None = None) -> None:
        self.namespace = namespace
        self.channel = f"{prefix}#{namespace}"
        self.uid = uid or os.urandom(8).hex()
        self.listener = psycopg.connect(url, autocommit=True)
        self.listener.execute(f'LISTEN "{self.channel}"')
        self.conn = psycopg.connect(url, autocommit=True)
        self.conn.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (id bigserial UNIQUE, "
                          "created_at timestamptz DEFAULT NOW(), payload bytea)")
        self.raw: list[str] = []          # every NOTIFY payload received, as text
        self.attachments_read: list[int] = []
        self._pending: list[dict] = []

    def close(self) -> None:
        self.listener.close()
        self.conn.close()

    # --- publishing

    def publish(self, message: dict) -> None:
        """As the reference adapter: inline JSON, or the attachments table when the JSON is
        THRESHOLD bytes or more or (for the kinds that carry arguments) holds binary."""
        carries_args = message["type"] in (BROADCAST, BROADCAST_ACK, SERVER_SIDE_EMIT, SERVER_SIDE_EMIT_RESPONSE)
        text = None if has_binary(message) else json.dumps(message, separators=(",", ":"))
        if (carries_args and text is None) or text is None or len(text.encode()) >= THRESHOLD:
            payload = msgpack.packb(message, use_bin_type=True)
            row = self.conn.execute(f"INSERT INTO {TABLE} (payload) VALUES (%s) RETURNING id", (payload,)).fetchone()
            text = json.dumps({"uid": message["uid"], "type": message["type"], "attachmentId": str(row[0])})
        self.conn.execute("SELECT pg_notify(%s, %s)", (self.channel, text))

    def emit(self, event: str, *args, rooms=(), except_=(), flags=None) -> None:
        """What @socket.io/postgres-emitter publishes: uid "emitter", no nsp."""
        self.publish({"uid": "emitter", "type": BROADCAST, "data": {
            "packet": {"type": 2, "data": [event, *args], "nsp": self.namespace},
            "opts": {"rooms": list(rooms), "except": list(except_), "flags": flags or {}}}})

    def message(self, type_: int, data: dict | None = None) -> dict:
        """A message from this peer as an adapter node (keys in the reference's order)."""
        message: dict = {"type": type_}
        if data is not None:
            message["data"] = data
        message["uid"] = self.uid
        message["nsp"] = self.namespace
        return message

    # --- receiving

    def _decode(self, payload: str) -> dict:
        message = json.loads(payload)
        if "attachmentId" in message:
            attachment_id = int(message["attachmentId"])
            row = self.conn.execute(f"SELECT payload FROM {TABLE} WHERE id = %s", (attachment_id,)).fetchone()
            assert row is not None, f"attachment {attachment_id} missing"
            self.attachments_read.append(attachment_id)
            full = msgpack.unpackb(bytes(row[0]), raw=False)
            assert full["uid"] == message["uid"] and full["type"] == message["type"], (full, message)
            return full
        return message

    def poll(self, timeout: float) -> None:
        """Reads what arrived within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            for notify in self.listener.notifies(timeout=0, stop_after=None):
                assert notify.channel == self.channel
                self.raw.append(notify.payload)
                self._pending.append(self._decode(notify.payload))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            select.select([self.listener.fileno()], [], [], min(remaining, 0.1))

    def next_message(self, predicate=lambda m: True, timeout: float = 10.0, skip_own: bool = True) -> dict:
        """The first message (oldest first) matching `predicate`; earlier others are dropped."""
        deadline = time.monotonic() + timeout
        while True:
            while self._pending:
                message = self._pending.pop(0)
                if skip_own and message.get("uid") == self.uid:
                    continue
                if predicate(message):
                    return message
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no matching cluster message within {timeout} s; raw so far: {self.raw[-10:]}")
            self.poll(min(remaining, 0.2))

    def drain(self, seconds: float = 0.3) -> list[dict]:
        self.poll(seconds)
        messages, self._pending = self._pending, []
        return messages
