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
    ];
}
