import Logging
import PostgresNIO

/// The chat's tables and functions in PostgreSQL, created when missing (under an advisory
/// lock: several servers start at once).
///
/// Messages are numbered per room, 1, 2, 3…: `duplex_chat_append` takes each room's lock
/// (`pg_advisory_xact_lock`), numbers, inserts and NOTIFYs in one transaction, so in every
/// room the id order is the commit order and the order of the notifications, and a server
/// that sees a gap knows it missed something.
enum PostgresChatSchema {
    /// Notifications `<id> <room>`: the room holds messages up to id.
    static let messagesChannel = "duplex_chat"
    /// Notifications `<node> <room>`: that server's people in the room changed.
    static let presenceChannel = "duplex_chat_presence"

    static let statements: [String] = [
        """
        DO $$ BEGIN
        PERFORM pg_advisory_xact_lock(7236501);
        CREATE TABLE IF NOT EXISTS duplex_chat_messages (
            room text NOT NULL, id bigint NOT NULL, user_name text NOT NULL, user_id bigint,
            body text NOT NULL, ts bigint NOT NULL, PRIMARY KEY (room, id));
        CREATE TABLE IF NOT EXISTS duplex_chat_identities (
            id bigserial PRIMARY KEY, token_digest text NOT NULL UNIQUE, name text, name_key text,
            kept boolean NOT NULL DEFAULT false, created bigint NOT NULL);
        CREATE UNIQUE INDEX IF NOT EXISTS duplex_chat_identities_kept_name
            ON duplex_chat_identities (name_key) WHERE kept AND name_key IS NOT NULL;
        CREATE TABLE IF NOT EXISTS duplex_chat_nodes (node text PRIMARY KEY, seen timestamptz NOT NULL);
        CREATE TABLE IF NOT EXISTS duplex_chat_presence (
            node text NOT NULL, room text NOT NULL, identity bigint NOT NULL, name text NOT NULL,
            since bigint NOT NULL, PRIMARY KEY (node, room, identity));
        CREATE OR REPLACE FUNCTION duplex_chat_append(rooms text[], users text[], uids bigint[], bodies text[], stamps bigint[])
        RETURNS TABLE (stored_room text, stored_id bigint) LANGUAGE plpgsql AS $f$
        DECLARE i int; next_id bigint;
        BEGIN
            -- Every room of the batch locked first, in one order (no deadlock between servers).
            PERFORM pg_advisory_xact_lock(k) FROM (SELECT DISTINCT hashtextextended(r, 0) AS k FROM unnest(rooms) AS r ORDER BY 1) AS keys;
            FOR i IN 1 .. coalesce(array_length(rooms, 1), 0) LOOP
                SELECT coalesce(max(m.id), 0) + 1 INTO next_id FROM duplex_chat_messages AS m WHERE m.room = rooms[i];
                INSERT INTO duplex_chat_messages VALUES (rooms[i], next_id, users[i], NULLIF(uids[i], 0), bodies[i], stamps[i]);
                PERFORM pg_notify('duplex_chat', next_id || ' ' || rooms[i]);
                stored_room := rooms[i]; stored_id := next_id; RETURN NEXT;
            END LOOP;
        END $f$;
        CREATE OR REPLACE FUNCTION duplex_chat_set_people(this_node text, this_room text, ids bigint[], names text[], sinces bigint[])
        RETURNS void LANGUAGE plpgsql AS $f$
        BEGIN
            DELETE FROM duplex_chat_presence AS p WHERE p.node = this_node AND p.room = this_room AND NOT (p.identity = ANY(ids));
            INSERT INTO duplex_chat_presence SELECT this_node, this_room, u.i, u.n, u.s FROM unnest(ids, names, sinces) AS u(i, n, s)
                ON CONFLICT (node, room, identity) DO UPDATE SET name = EXCLUDED.name, since = EXCLUDED.since;
            PERFORM pg_notify('duplex_chat_presence', this_node || ' ' || this_room);
        END $f$;
        END $$
        """,
    ]

    static func create(on connection: PostgresConnection, logger: Logger) async throws {
        for statement in statements {
            try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
        }
    }
}
