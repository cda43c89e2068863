"""Identities in `duplex chat`: a token the server issues, kept by the client, gives the same
identity (and name) across reconnects and restarts; names are unique in a room; a forged or
unknown token gets a new identity; "own message" is the identity (`uid`), not the name."""

from __future__ import annotations

import asyncio
import json

import pytest

from chat_client import ChatClient
from websockets.asyncio.client import connect

pytestmark = pytest.mark.timeout(60)


Person = ChatClient


def query(token: str | None = None, **params: str) -> str:
    parts = [f"{k}={v}" for k, v in params.items()]
    if token is not None:
        parts.append(f"token={token}")
    return "?" + "&".join(parts)


def test_a_new_client_gets_a_token_and_keeps_its_identity_across_reconnects(chat):
    async def scenario():
        first = await Person.open(chat.url(query("")))
        token, uid, name = first.welcome["token"], first.welcome["uid"], first.welcome["you"]
        assert len(token) == 64 and name == f"User {uid}"
        await first.ws.send('{"cmd":"nick","name":"Ada"}')
        await first.until(lambda e: e["type"] == 5)
        await first.ws.close()
        again = await Person.open(chat.url(query(token)))
        assert again.welcome["uid"] == uid and again.welcome["you"] == "Ada"
        assert "token" not in again.welcome, "a known token is not issued again"
        await again.ws.close()

    asyncio.run(scenario())


def test_identity_and_name_survive_a_server_restart(chat_factory, tmp_path):
    server = chat_factory("--db", str(tmp_path / "chat.sqlite"))

    async def before():
        ada = await Person.open(server.url(query("", room="team")))
        await ada.ws.send('{"cmd":"nick","name":"Ada"}')
        await ada.until(lambda e: e["type"] == 5)
        await ada.ws.send("written before the restart")
        mine = await ada.until(lambda e: e["type"] == 2)
        await ada.ws.close()
        return ada.welcome["token"], ada.welcome["uid"], mine

    token, uid, mine = asyncio.run(before())
    assert mine["uid"] == uid
    assert server.stop() == 0
    server.start()

    async def after():
        # A newcomer after the restart is a new identity: not `User 1` again, and the
        # history shows Ada's message as Ada's (uid), not the newcomer's.
        newcomer = await Person.open(server.url(query("", room="team")))
        assert newcomer.welcome["uid"] != uid and newcomer.welcome["you"] != f"User {uid}"
        await newcomer.until(lambda e: e["type"] == 0)  # its enter line comes after the history
        history = [e for e in newcomer.inbox if e.get("history")]
        assert [(e["user"], e["uid"]) for e in history] == [("Ada", uid)]
        # Ada comes back with her token: same identity, same name.
        ada = await Person.open(server.url(query(token, room="team")))
        assert (ada.welcome["uid"], ada.welcome["you"]) == (uid, "Ada")
        # The name stays hers while she is away: nobody else may take it.
        await ada.ws.close()
        await newcomer.ws.send('{"cmd":"nick","name":"ada"}')
        refused = await newcomer.until(lambda e: e["type"] == 6)
        assert refused["code"] == "nickname_taken"
        await newcomer.ws.close()

    asyncio.run(after())


def test_two_clients_never_share_a_name_in_a_room(chat):
    async def scenario():
        a = await Person.open(chat.url(query("", name="Sam")))
        assert a.welcome["you"] == "Sam"
        # asking for the same name in the URL: refused, a default name instead
        b = await Person.open(chat.url(query("", name="SAM")))
        assert any(e["type"] == 6 and e["code"] == "nickname_taken" for e in b.inbox)
        assert b.welcome["you"] == f"User {b.welcome['uid']}"
        # renaming to it: refused
        await b.ws.send('{"cmd":"nick","name":"sam"}')
        assert (await b.until(lambda e: e["type"] == 6))["code"] == "nickname_taken"
        # another's default name is reserved for them
        await b.ws.send(json.dumps({"cmd": "nick", "name": a.welcome["you"]}))
        assert (await b.until(lambda e: e["type"] == 6))["code"] == "nickname_taken"
        await b.ws.send(json.dumps({"cmd": "nick", "name": f"User {a.welcome['uid']}"}))
        assert (await b.until(lambda e: e["type"] == 6))["code"] == "nickname_taken"
        # a classic client (no token) asking for a name held by a kept identity
        c = await Person.open(chat.url(query(None, name="Sam")))
        assert c.welcome["you"] != "Sam"
        names = [a.welcome["you"], b.welcome["you"], c.welcome["you"]]
        assert len({n.lower() for n in names}) == 3, names
        # two connections of one identity (two tabs) are one person with one name
        a2 = await Person.open(chat.url(query(a.welcome["token"] if "token" in a.welcome else "")))
        for person in (a, b, c, a2):
            await person.ws.close()

    asyncio.run(scenario())


def test_a_second_tab_of_one_identity_is_one_person(chat):
    async def scenario():
        a = await Person.open(chat.url(query("", name="Tab")))
        watcher = await Person.open(chat.url(query("")))
        a2 = await Person.open(chat.url(query(a.welcome["token"])))
        assert (a2.welcome["uid"], a2.welcome["you"]) == (a.welcome["uid"], "Tab")
        await a2.ws.send("from the second tab")
        message = await a.until(lambda e: e["type"] == 2)
        assert message["uid"] == a.welcome["uid"], "both tabs see it as their own (same uid)"
        await a2.ws.close()
        await watcher.ws.send("marker")
        await watcher.until(lambda e: e["type"] == 2 and e["text"] == "marker")
        assert [e["user"] for e in watcher.inbox if e["type"] == 1] == [], "closing one tab is no departure"
        assert [e["user"] for e in watcher.inbox if e["type"] == 0] == [watcher.welcome["you"]], "the second tab is no arrival"
        for person in (a, watcher):
            await person.ws.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("token", ["f" * 64, "not-a-token", "0" * 63 + "g", "A" * 64])
def test_a_forged_or_unknown_token_gets_a_new_identity(chat, token):
    async def scenario():
        owner = await Person.open(chat.url(query("", name="Owner")))
        forger = await Person.open(chat.url(query(token)))
        assert forger.welcome["uid"] != owner.welcome["uid"]
        assert forger.welcome["you"] == f"User {forger.welcome['uid']}"
        assert len(forger.welcome["token"]) == 64 and forger.welcome["token"] != token
        await forger.ws.close()
        await owner.ws.close()

    asyncio.run(scenario())


def test_own_message_is_decided_by_identity_not_name(chat_factory, tmp_path):
    """Ada renames away; a classic client takes her old name while she is offline... it
    cannot, since her name is kept; but a message's `uid` is who sent it, whatever the
    name it carried."""
    server = chat_factory("--memory")

    async def scenario():
        ada = await Person.open(server.url(query("", name="Ada")))
        await ada.ws.send("hello")
        first = await ada.until(lambda e: e["type"] == 2)
        await ada.ws.send('{"cmd":"nick","name":"Ada L"}')
        await ada.until(lambda e: e["type"] == 5)
        # a classic client may now take the free name "Ada"; its messages are not Ada's
        impostor = await Person.open(server.url(query(None, name="Ada")))
        assert impostor.welcome["you"] == "Ada"
        await impostor.until(lambda e: e["type"] == 0)
        history = [e for e in impostor.inbox if e.get("history")]
        assert history[0]["user"] == "Ada" and history[0]["uid"] == ada.welcome["uid"] != impostor.welcome["uid"]
        await impostor.ws.send("not Ada")
        second = await ada.until(lambda e: e["type"] == 2 and e["text"] == "not Ada")
        assert second["user"] == "Ada" and second["uid"] == impostor.welcome["uid"]
        assert first["uid"] == ada.welcome["uid"]
        await impostor.ws.close()
        await ada.ws.close()

    asyncio.run(scenario())


def test_socketio_client_keeps_its_identity_with_the_auth_token(chat):
    import socketio

    async def scenario():
        async def session(auth):
            client = socketio.AsyncClient(reconnection=False)
            welcome = asyncio.get_running_loop().create_future()
            client.on("welcome", lambda e: welcome.done() or welcome.set_result(e))
            await client.connect(f"http://127.0.0.1:{chat.port}", auth=auth, transports=["websocket"], wait_timeout=10)
            got = await asyncio.wait_for(welcome, 10)
            return client, got

        client, first = await session({"token": "", "name": "Sio"})
        await client.disconnect()
        client, again = await session({"token": first["token"]})
        assert (again["uid"], again["you"]) == (first["uid"], "Sio")
        await client.disconnect()

    asyncio.run(scenario())


def test_a_history_file_from_before_identities_is_upgraded(chat_factory, tmp_path):
    """A chat.sqlite written by an earlier version (no identities, no sender column) opens,
    keeps its history, and gets the new tables; new default names start above the old ones."""
    import sqlite3

    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT, room TEXT NOT NULL, "
                   "user TEXT NOT NULL, text TEXT NOT NULL, ts INTEGER NOT NULL)")
        db.execute("INSERT INTO messages (room, user, text, ts) VALUES ('general', 'User 1', 'from the old days', 1700000000000)")
        db.execute("INSERT INTO messages (room, user, text, ts) VALUES ('general', 'User 7', 'me too', 1700000001000)")
    server = chat_factory("--db", str(path))

    async def scenario():
        newcomer = await Person.open(server.url(query("")))
        await newcomer.until(lambda e: e["type"] == 0)
        history = [e for e in newcomer.inbox if e.get("history")]
        assert [(e["user"], e["text"], e.get("uid")) for e in history] == [
            ("User 1", "from the old days", None), ("User 7", "me too", None)]
        # new identities are numbered above the old default names: no stranger's name
        assert newcomer.welcome["you"] == "User 8"
        await newcomer.ws.send("new times")
        assert (await newcomer.until(lambda e: e["type"] == 2 and not e.get("history")))["uid"] == newcomer.welcome["uid"]
        await newcomer.ws.close()

    asyncio.run(scenario())
    server.stop()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT user_id FROM messages ORDER BY id DESC LIMIT 1").fetchone()[0] is not None
        assert db.execute("SELECT count(*) FROM identities").fetchone()[0] == 1
