using Echo.Core.Chat;
using Echo.Core.Ports;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Storage;

/// <summary>
/// The history in one SQLite file (<see cref="FileName"/> in the data directory), in WAL mode with
/// <c>synchronous=FULL</c>: a write is on disk, the write-ahead log fsynced, when its task completes,
/// so a message shown after it survives a killed process and a power cut alike.
/// </summary>
/// <remarks>
/// Opening never destroys anything. A file that is not an SQLite database, or one of another
/// program (its application id is not ours), is left untouched and history is off for the session
/// (<see cref="Problem"/> says so). A file that fails <c>PRAGMA quick_check</c> is copied next to
/// itself (<c>history.db.damaged-&lt;time&gt;</c>) and opened read-only, so what can still be read is
/// shown and nothing more is written into it. One connection serves every call, one at a time.
/// </remarks>
public sealed partial class SqliteMessageStore : IMessageStore
{
    public const string FileName = "history.db";

    private const string Columns = "id, room, sender, nick, text, ts, origin, sig_from, sig_seqno, sig_data, sig_signature, sig_key, clock_clamped, action";

    private readonly SqliteConnection? _connection;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private int _disposed;

    private SqliteMessageStore(string path, SqliteConnection? connection, bool readOnly, string? problem, TimeProvider time, ILogger logger)
    {
        Path = path;
        _connection = connection;
        IsReadOnly = readOnly;
        Problem = problem;
        _time = time;
        _logger = logger;
    }

    /// <summary>The database file.</summary>
    public string Path { get; }

    /// <inheritdoc />
    public string? Problem { get; }

    /// <inheritdoc />
    public bool IsReadOnly { get; }

    /// <summary>False when the file could not be used at all (history is off); reads then find nothing.</summary>
    public bool IsAvailable => _connection is not null;

    /// <summary>Where a damaged file was copied to, when it was.</summary>
    public string? BackupPath { get; private init; }

    /// <summary>
    /// Opens (or creates) the history at <paramref name="path"/> and brings its schema up to date.
    /// Never throws for a bad file: the store then reports <see cref="Problem"/> and works read-only
    /// or not at all. With <paramref name="mustExist"/> a missing file is a <see cref="MessageStoreException"/>
    /// (for commands that only read).
    /// </summary>
    public static SqliteMessageStore Open(string path, ILogger? logger = null, TimeProvider? time = null, bool mustExist = false)
    {
        logger ??= NullLogger.Instance;
        time ??= TimeProvider.System;
        if (mustExist && !File.Exists(path))
            throw new MessageStoreException($"there is no history at {path}");
        SqliteConnection connection = new(new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false, // the file is closed when the store is, so it can be copied or removed
        }.ToString());
        try
        {
            connection.Open();
            Execute(connection, "PRAGMA busy_timeout = 5000");
            if (Inspect(connection, path) is { } foreign)
            {
                Log.Unusable(logger, path, foreign);
                connection.Dispose();
                return new SqliteMessageStore(path, null, true, $"history is off this session: {foreign}", time, logger);
            }
            Execute(connection, "PRAGMA journal_mode = WAL");
            Execute(connection, "PRAGMA synchronous = FULL");
            if (QuickCheck(connection) is { } damage)
                return OpenDamaged(path, connection, damage, time, logger);
            Migrate(connection);
            return new SqliteMessageStore(path, connection, false, null, time, logger);
        }
        catch (SqliteException e)
        {
            // Not a database at all (a garbage header), or damaged beyond reading its schema.
            connection.Dispose();
            SqliteConnection.ClearAllPools();
            string backup = Backup(path, time);
            string problem = $"history database {path} cannot be read ({Describe(e)}); a copy is at {backup}; " +
                             "history is off this session. Move the file away to start a new history.";
            Log.Unusable(logger, path, problem);
            return new SqliteMessageStore(path, null, true, problem, time, logger) { BackupPath = backup };
        }
    }

    /// <summary>Runs SQLite's full <c>PRAGMA integrity_check</c>; "ok" when the file is sound.</summary>
    public async Task<string> IntegrityCheckAsync(CancellationToken cancellationToken)
    {
        if (_connection is null)
            return "unavailable";
        return await Locked(c =>
        {
            using SqliteCommand command = c.CreateCommand();
            command.CommandText = "PRAGMA integrity_check";
            using SqliteDataReader reader = command.ExecuteReader();
            List<string> lines = [];
            while (reader.Read())
                lines.Add(reader.GetString(0));
            return string.Join('\n', lines);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>How many messages are stored (all rooms).</summary>
    public Task<long> CountAsync(CancellationToken cancellationToken) =>
        _connection is null ? Task.FromResult(0L) : Locked(c => (long)Scalar(c, "SELECT count(*) FROM messages")!, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<ChatMessage>> AddAsync(IReadOnlyList<ChatMessage> messages, CancellationToken cancellationToken) =>
        Write(c => Insert(c, messages), cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<ChatMessage>> AddSyncedAsync(string room, string peerId, IReadOnlyList<ChatMessage> messages,
        HistoryCursor cursor, CancellationToken cancellationToken) =>
        Write(c =>
        {
            IReadOnlyList<ChatMessage> added = Insert(c, messages);
            using SqliteCommand command = c.CreateCommand();
            command.CommandText = """
                INSERT INTO sync_cursors (room, peer, ts, id) VALUES ($room, $peer, $ts, $id)
                ON CONFLICT (room, peer) DO UPDATE SET ts = excluded.ts, id = excluded.id
                """;
            command.Parameters.AddWithValue("$room", room);
            command.Parameters.AddWithValue("$peer", peerId);
            command.Parameters.AddWithValue("$ts", cursor.TimestampMs);
            command.Parameters.AddWithValue("$id", cursor.Id);
            command.ExecuteNonQuery();
            return added;
        }, cancellationToken);

    /// <inheritdoc />
    public Task<HistoryCursor?> GetSyncCursorAsync(string room, string peerId, CancellationToken cancellationToken) =>
        Read<HistoryCursor?>(c =>
        {
            using SqliteCommand command = c.CreateCommand();
            command.CommandText = "SELECT ts, id FROM sync_cursors WHERE room = $room AND peer = $peer";
            command.Parameters.AddWithValue("$room", room);
            command.Parameters.AddWithValue("$peer", peerId);
            using SqliteDataReader reader = command.ExecuteReader();
            return reader.Read() ? new HistoryCursor(reader.GetInt64(0), reader.GetString(1)) : null;
        }, null, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<ChatMessage>> LatestAsync(string room, int count, CancellationToken cancellationToken) =>
        Query($"SELECT {Columns} FROM messages WHERE room = $room ORDER BY ts DESC, id DESC LIMIT $n",
            room, HistoryCursor.End, count, reverse: true, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<ChatMessage>> BeforeAsync(string room, HistoryCursor before, int count, CancellationToken cancellationToken) =>
        Query($"SELECT {Columns} FROM messages WHERE room = $room AND (ts, id) < ($ts, $id) ORDER BY ts DESC, id DESC LIMIT $n",
            room, before, count, reverse: true, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<ChatMessage>> AfterAsync(string room, HistoryCursor after, int count, CancellationToken cancellationToken) =>
        Query($"SELECT {Columns} FROM messages WHERE room = $room AND (ts, id) > ($ts, $id) ORDER BY ts, id LIMIT $n",
            room, after, count, reverse: false, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<ChatMessage>> SearchAsync(string room, string text, int count, CancellationToken cancellationToken) =>
        text.Length == 0 || count <= 0
            ? Task.FromResult<IReadOnlyList<ChatMessage>>([])
            : Read<IReadOnlyList<ChatMessage>>(c =>
            {
                using SqliteCommand command = c.CreateCommand();
                command.CommandText = $"SELECT {Columns} FROM messages WHERE room = $room AND text LIKE $pattern ESCAPE '\\' " +
                                      "ORDER BY ts DESC, id DESC LIMIT $n";
                command.Parameters.AddWithValue("$room", room);
                command.Parameters.AddWithValue("$pattern", "%" + LikeEscaped(text) + "%");
                command.Parameters.AddWithValue("$n", count);
                using SqliteDataReader reader = command.ExecuteReader();
                List<ChatMessage> messages = [];
                while (reader.Read())
                    messages.Add(ReadMessage(reader));
                messages.Reverse();
                return messages;
            }, [], cancellationToken);

    /// <summary>Text for a LIKE pattern with '\' as the escape: '%', '_' and '\' match themselves.</summary>
    internal static string LikeEscaped(string text) =>
        text.Replace("\\", "\\\\", StringComparison.Ordinal)
            .Replace("%", "\\%", StringComparison.Ordinal)
            .Replace("_", "\\_", StringComparison.Ordinal);

    /// <inheritdoc />
    public Task<IReadOnlyList<string>> LoadRoomsAsync(CancellationToken cancellationToken) =>
        Read<IReadOnlyList<string>>(c =>
        {
            using SqliteCommand command = c.CreateCommand();
            command.CommandText = "SELECT name FROM rooms ORDER BY position";
            using SqliteDataReader reader = command.ExecuteReader();
            List<string> rooms = [];
            while (reader.Read())
                rooms.Add(reader.GetString(0));
            return rooms;
        }, [], cancellationToken);

    /// <inheritdoc />
    public Task<string?> LoadCurrentRoomAsync(CancellationToken cancellationToken) =>
        Read(c => Scalar(c, "SELECT name FROM rooms WHERE current = 1 ORDER BY position LIMIT 1") as string, null, cancellationToken);

    /// <inheritdoc />
    public async Task SaveRoomsAsync(IReadOnlyList<string> rooms, CancellationToken cancellationToken) =>
        await Write(c => SaveRooms(c, rooms, Scalar(c, "SELECT name FROM rooms WHERE current = 1 ORDER BY position LIMIT 1") as string),
            cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public async Task SaveRoomsAsync(IReadOnlyList<string> rooms, string? currentRoom, CancellationToken cancellationToken) =>
        await Write(c => SaveRooms(c, rooms, currentRoom), cancellationToken).ConfigureAwait(false);

    private static IReadOnlyList<ChatMessage> SaveRooms(SqliteConnection connection, IReadOnlyList<string> rooms, string? currentRoom)
    {
        Execute(connection, "DELETE FROM rooms");
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "INSERT OR IGNORE INTO rooms (position, name, current) VALUES ($position, $name, $current)";
        SqliteParameter position = command.Parameters.Add("$position", SqliteType.Integer);
        SqliteParameter name = command.Parameters.Add("$name", SqliteType.Text);
        SqliteParameter current = command.Parameters.Add("$current", SqliteType.Integer);
        for (int i = 0; i < rooms.Count; i++)
        {
            position.Value = i;
            name.Value = rooms[i];
            current.Value = rooms[i] == currentRoom ? 1 : 0;
            command.ExecuteNonQuery();
        }
        return [];
    }

    private IReadOnlyList<ChatMessage> Insert(SqliteConnection connection, IReadOnlyList<ChatMessage> messages)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = $"""
            INSERT INTO messages ({Columns}, received)
            VALUES ($id, $room, $sender, $nick, $text, $ts, $origin, $from, $seqno, $data, $signature, $key, $clamped, $action, $received)
            ON CONFLICT (id) DO NOTHING
            """;
        SqliteParameter[] p =
        [
            command.Parameters.Add("$id", SqliteType.Text), command.Parameters.Add("$room", SqliteType.Text),
            command.Parameters.Add("$sender", SqliteType.Text), command.Parameters.Add("$nick", SqliteType.Text),
            command.Parameters.Add("$text", SqliteType.Text), command.Parameters.Add("$ts", SqliteType.Integer),
            command.Parameters.Add("$origin", SqliteType.Integer), command.Parameters.Add("$from", SqliteType.Blob),
            command.Parameters.Add("$seqno", SqliteType.Blob), command.Parameters.Add("$data", SqliteType.Blob),
            command.Parameters.Add("$signature", SqliteType.Blob), command.Parameters.Add("$key", SqliteType.Blob),
            command.Parameters.Add("$clamped", SqliteType.Integer), command.Parameters.Add("$action", SqliteType.Integer),
            command.Parameters.Add("$received", SqliteType.Integer),
        ];
        long received = _time.GetUtcNow().ToUnixTimeMilliseconds();
        List<ChatMessage> added = [];
        foreach (ChatMessage m in messages)
        {
            SignedEnvelope? e = m.Envelope;
            object?[] values =
            [
                m.Id, m.Room, m.SenderId, m.SenderNick, m.Text, m.Timestamp.ToUnixTimeMilliseconds(), (int)m.Origin,
                e?.From, e?.Seqno, e?.Data, e?.Signature, e?.Key, m.ClockClamped ? 1 : 0, m.Action ? 1 : 0, received,
            ];
            for (int i = 0; i < p.Length; i++)
                p[i].Value = values[i] ?? DBNull.Value;
            if (command.ExecuteNonQuery() == 1)
                added.Add(m);
        }
        return added;
    }

    private Task<IReadOnlyList<ChatMessage>> Query(string sql, string room, HistoryCursor cursor, int count, bool reverse,
        CancellationToken cancellationToken) =>
        Read<IReadOnlyList<ChatMessage>>(c =>
        {
            using SqliteCommand command = c.CreateCommand();
            command.CommandText = sql;
            command.Parameters.AddWithValue("$room", room);
            command.Parameters.AddWithValue("$ts", cursor.TimestampMs);
            command.Parameters.AddWithValue("$id", cursor.Id);
            command.Parameters.AddWithValue("$n", Math.Max(0, count));
            using SqliteDataReader reader = command.ExecuteReader();
            List<ChatMessage> messages = [];
            while (reader.Read())
                messages.Add(ReadMessage(reader));
            if (reverse)
                messages.Reverse();
            return messages;
        }, [], cancellationToken);

    private static ChatMessage ReadMessage(SqliteDataReader r)
    {
        SignedEnvelope? envelope = r.IsDBNull(7)
            ? null
            : new SignedEnvelope(Blob(r, 7), Blob(r, 8), Blob(r, 9), Blob(r, 10), Blob(r, 11));
        return new ChatMessage(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4),
            DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(5)), (MessageOrigin)r.GetInt32(6))
        {
            Envelope = envelope,
            ClockClamped = r.GetInt64(12) != 0,
            Action = r.GetInt64(13) != 0,
        };
    }

    private static byte[] Blob(SqliteDataReader reader, int column) => reader.IsDBNull(column) ? [] : (byte[])reader.GetValue(column);

    /// <summary>Runs a write in one transaction (one fsync); refuses when the store is read-only.</summary>
    private Task<IReadOnlyList<ChatMessage>> Write(Func<SqliteConnection, IReadOnlyList<ChatMessage>> write,
        CancellationToken cancellationToken)
    {
        if (IsReadOnly || _connection is null)
            throw new MessageStoreException(Problem ?? "history is read-only");
        return Locked(c =>
        {
            using SqliteTransaction transaction = c.BeginTransaction();
            IReadOnlyList<ChatMessage> result = write(c);
            transaction.Commit();
            return result;
        }, cancellationToken);
    }

    private Task<T> Read<T>(Func<SqliteConnection, T> read, T unavailable, CancellationToken cancellationToken) =>
        _connection is null ? Task.FromResult(unavailable) : Locked(read, cancellationToken);

    private async Task<T> Locked<T>(Func<SqliteConnection, T> action, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            return action(_connection!);
        }
        catch (SqliteException e)
        {
            Log.Failed(_logger, Path, e.Message);
            throw new MessageStoreException($"history database {Path}: {Describe(e)}", e);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Null when the file is empty or Echo's; otherwise why it is not ours to use.</summary>
    private static string? Inspect(SqliteConnection connection, string path)
    {
        long applicationId = (long)Scalar(connection, "PRAGMA application_id")!;
        long version = (long)Scalar(connection, "PRAGMA user_version")!;
        long objects = (long)Scalar(connection, "SELECT count(*) FROM sqlite_schema")!;
        if (applicationId == 0 && version == 0 && objects == 0)
            return null; // new (or a 0-byte file, which SQLite takes as an empty database)
        if (applicationId != Schema.ApplicationId)
            return $"{path} is an SQLite database of another program (application id {applicationId}); it was left as it is";
        if (version > Schema.Version)
            return $"{path} was written by a newer echo-chat (schema {version}; this one knows up to {Schema.Version}); it was left as it is";
        return null;
    }

    private static string? QuickCheck(SqliteConnection connection)
    {
        string result = (string)Scalar(connection, "PRAGMA quick_check(1)")!;
        return result == "ok" ? null : result;
    }

    private static SqliteMessageStore OpenDamaged(string path, SqliteConnection connection, string damage, TimeProvider time, ILogger logger)
    {
        string backup = Backup(path, time);
        Execute(connection, "PRAGMA query_only = ON");
        string problem = $"history database {path} is damaged ({damage}); a copy is at {backup}; history is read-only " +
                         "this session. Move the file away to start a new history.";
        Log.Unusable(logger, path, problem);
        return new SqliteMessageStore(path, connection, true, problem, time, logger) { BackupPath = backup };
    }

    /// <summary>Copies the database and its write-ahead log aside; returns the copy's path.</summary>
    private static string Backup(string path, TimeProvider time)
    {
        string backup = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{path}.damaged-{time.GetUtcNow():yyyyMMddHHmmss}");
        for (int n = 1; File.Exists(backup); n++)
            backup = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{path}.damaged-{time.GetUtcNow():yyyyMMddHHmmss}-{n}");
        try
        {
            File.Copy(path, backup);
            if (File.Exists(path + "-wal"))
                File.Copy(path + "-wal", backup + "-wal");
        }
        catch (IOException e)
        {
            return $"(none: {e.Message})";
        }
        return backup;
    }

    private static void Migrate(SqliteConnection connection)
    {
        long version = (long)Scalar(connection, "PRAGMA user_version")!;
        for (long v = version; v < Schema.Version; v++)
        {
            using SqliteTransaction transaction = connection.BeginTransaction();
            Execute(connection, Schema.Migrations[v]);
            Execute(connection, $"PRAGMA user_version = {v + 1}");
            if (v == 0)
                Execute(connection, $"PRAGMA application_id = {Schema.ApplicationId}");
            transaction.Commit();
        }
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static object? Scalar(SqliteConnection connection, string sql)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    private static string Describe(SqliteException e) => e.SqliteErrorCode switch
    {
        11 => "the file is damaged",
        13 => "the disk is full",
        26 => "the file is not a database",
        _ => e.Message.Replace("SQLite Error ", "error ", StringComparison.Ordinal),
    };

    public async ValueTask DisposeAsync()
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
                return;
            if (_connection is not null)
                await _connection.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }
}
