namespace Echo.Storage;

/// <summary>
/// The history database's schema and its migrations. <c>PRAGMA user_version</c> holds the schema
/// version and <c>PRAGMA application_id</c> marks the file as Echo's, so a file of another program
/// is recognised and left alone. Migration <c>i</c> takes version <c>i</c> to <c>i + 1</c>; each runs
/// in its own transaction together with the version bump, so a crash leaves one version or the next.
/// </summary>
internal static class Schema
{
    /// <summary>"ECHO" in ASCII, as the file's SQLite application id.</summary>
    public const int ApplicationId = 0x4543484F;

    public static int Version => Migrations.Length;

    public static readonly string[] Migrations =
    [
        // 0 -> 1: messages with their signed envelope, joined rooms, history sync cursors.
        """
        CREATE TABLE messages (
            seq           INTEGER PRIMARY KEY,   -- insertion order
            id            TEXT    NOT NULL UNIQUE, -- author + seqno: a message relayed or replayed is stored once
            room          TEXT    NOT NULL,
            sender        TEXT    NOT NULL,      -- the author's peer id (the signer for signed messages)
            nick          TEXT    NOT NULL,
            text          TEXT    NOT NULL,
            ts            INTEGER NOT NULL,      -- the author's time (or arrival when it gave none), unix ms
            received      INTEGER NOT NULL,      -- when this node stored it, unix ms
            origin        INTEGER NOT NULL,      -- 0 own, 1 signed room message, 2 echo-go line (unsigned)
            sig_from      BLOB,                  -- the signed pubsub fields, null for unsigned lines
            sig_seqno     BLOB,
            sig_data      BLOB,
            sig_signature BLOB,
            sig_key       BLOB
        );
        CREATE INDEX messages_by_room_time ON messages (room, ts, id);
        CREATE TABLE rooms (
            position INTEGER PRIMARY KEY,
            name     TEXT NOT NULL UNIQUE
        );
        CREATE TABLE sync_cursors (
            room TEXT    NOT NULL,
            peer TEXT    NOT NULL,
            ts   INTEGER NOT NULL,
            id   TEXT    NOT NULL,
            PRIMARY KEY (room, peer)
        ) WITHOUT ROWID;
        """,
        // 1 -> 2: direct messages, sent and received; the outbox is the sent ones not yet delivered.
        """
        CREATE TABLE direct_messages (
            seq       INTEGER PRIMARY KEY,   -- insertion order: the outbox is sent in it
            id        TEXT    NOT NULL,      -- 32 hex digits chosen by the author
            peer      TEXT    NOT NULL,      -- the other party: author of a received one, recipient of a sent one
            nick      TEXT    NOT NULL,      -- the author's nick
            text      TEXT    NOT NULL,
            ts        INTEGER NOT NULL,      -- the author's time, unix ms
            outgoing  INTEGER NOT NULL,      -- 1 sent by us, 0 received
            delivered INTEGER NOT NULL,      -- 1 acknowledged by the recipient (always 1 for received)
            UNIQUE (peer, id)
        );
        CREATE INDEX direct_outbox ON direct_messages (seq) WHERE outgoing = 1 AND delivered = 0;
        CREATE INDEX direct_by_peer ON direct_messages (peer, seq);
        """,
        // 2 -> 3: history sync by receive order (messages.seq, named by a random epoch), cursors kept
        // in it per (room, peer); author times outside the plausible window replaced by the receive
        // time and marked (MessageClock: at most 5 min ahead, not before 2020), also for rows stored
        // before. messages.seq only grows: nothing deletes messages, so SQLite never reuses a rowid.
        """
        ALTER TABLE messages ADD COLUMN clock_clamped INTEGER NOT NULL DEFAULT 0;
        UPDATE messages SET ts = received, clock_clamped = 1
            WHERE origin = 1 AND (ts > received + 300000 OR ts < 1577836800000);
        CREATE INDEX messages_by_room_seq ON messages (room, seq);
        CREATE TABLE store_info (
            key   TEXT NOT NULL PRIMARY KEY,
            value TEXT NOT NULL
        ) WITHOUT ROWID;
        INSERT INTO store_info (key, value) VALUES ('receive_epoch', lower(hex(randomblob(16))));
        CREATE TABLE sync_positions (
            room  TEXT    NOT NULL,
            peer  TEXT    NOT NULL,
            epoch TEXT    NOT NULL,      -- the peer's receive_epoch
            seq   INTEGER NOT NULL,      -- the last of the peer's messages.seq we got
            PRIMARY KEY (room, peer)
        ) WITHOUT ROWID;
        """,
        // 3 -> 4: /me actions keep their flag (the text is the action alone; faces show "* nick action").
        """
        ALTER TABLE messages ADD COLUMN action INTEGER NOT NULL DEFAULT 0;
        """,
        // 4 -> 5: which joined room was current, so a restart opens it again (rooms.position keeps
        // the user's order).
        """
        ALTER TABLE rooms ADD COLUMN current INTEGER NOT NULL DEFAULT 0;
        """,
        // 5 -> 6: direct /me actions keep their flag too (the text is the action alone), also in the outbox.
        """
        ALTER TABLE direct_messages ADD COLUMN action INTEGER NOT NULL DEFAULT 0;
        """,
    ];
}
