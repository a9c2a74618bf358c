using Echo.Core.Direct;
using Echo.Core.Ports;
using Microsoft.Data.Sqlite;

namespace Echo.Storage;

/// <summary>Direct messages and their outbox, in the same file and with the same durability as the history.</summary>
public sealed partial class SqliteMessageStore : IDirectStore
{
    private const string DirectColumns = "id, peer, nick, text, ts, outgoing, delivered, action";

    /// <summary>True when direct messages can be kept here (the file is usable and writable).</summary>
    public bool CanStoreDirectMessages => _connection is not null && !IsReadOnly;

    /// <inheritdoc />
    public Task<bool> AddAsync(DirectMessage message, CancellationToken cancellationToken) =>
        WriteDirect(c => InsertDirect(c, [message])[0], cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<bool>> AddAllAsync(IReadOnlyList<DirectMessage> messages, CancellationToken cancellationToken) =>
        WriteDirect(c => InsertDirect(c, messages), cancellationToken);

    private static IReadOnlyList<bool> InsertDirect(SqliteConnection connection, IReadOnlyList<DirectMessage> messages)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = """
            INSERT OR IGNORE INTO direct_messages (id, peer, nick, text, ts, outgoing, delivered, action)
            VALUES ($id, $peer, $nick, $text, $ts, $outgoing, $delivered, $action)
            """;
        SqliteParameter id = command.Parameters.Add("$id", SqliteType.Text);
        SqliteParameter peer = command.Parameters.Add("$peer", SqliteType.Text);
        SqliteParameter nick = command.Parameters.Add("$nick", SqliteType.Text);
        SqliteParameter text = command.Parameters.Add("$text", SqliteType.Text);
        SqliteParameter ts = command.Parameters.Add("$ts", SqliteType.Integer);
        SqliteParameter outgoing = command.Parameters.Add("$outgoing", SqliteType.Integer);
        SqliteParameter delivered = command.Parameters.Add("$delivered", SqliteType.Integer);
        SqliteParameter action = command.Parameters.Add("$action", SqliteType.Integer);
        bool[] added = new bool[messages.Count];
        for (int i = 0; i < messages.Count; i++)
        {
            DirectMessage message = messages[i];
            id.Value = message.Id;
            peer.Value = message.PeerId;
            nick.Value = message.Nick;
            text.Value = message.Text;
            ts.Value = message.Timestamp.ToUnixTimeMilliseconds();
            outgoing.Value = message.Outgoing ? 1 : 0;
            delivered.Value = message.Delivered ? 1 : 0;
            action.Value = message.Action ? 1 : 0;
            added[i] = command.ExecuteNonQuery() == 1;
        }
        return added;
    }

    /// <inheritdoc />
    public Task MarkDeliveredAsync(string peerId, string id, CancellationToken cancellationToken) =>
        WriteDirect(c =>
        {
            using SqliteCommand command = c.CreateCommand();
            command.CommandText = "UPDATE direct_messages SET delivered = 1 WHERE peer = $peer AND id = $id AND outgoing = 1";
            command.Parameters.AddWithValue("$peer", peerId);
            command.Parameters.AddWithValue("$id", id);
            return command.ExecuteNonQuery();
        }, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<DirectMessage>> OutboxAsync(string? peerId, CancellationToken cancellationToken) =>
        ReadDirect($"SELECT {DirectColumns} FROM direct_messages WHERE outgoing = 1 AND delivered = 0 " +
                   "AND ($peer IS NULL OR peer = $peer) ORDER BY seq", peerId, int.MaxValue, reverse: false, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<DirectMessage>> ConversationAsync(string? peerId, int count, CancellationToken cancellationToken) =>
        ReadDirect(peerId is null
                ? $"SELECT {DirectColumns} FROM direct_messages ORDER BY seq DESC LIMIT $n"
                : $"SELECT {DirectColumns} FROM direct_messages WHERE peer = $peer ORDER BY seq DESC LIMIT $n",
            peerId, count, reverse: true, cancellationToken);

    /// <summary>One write in its own transaction (one fsync); refuses when the store is read-only.</summary>
    private Task<T> WriteDirect<T>(Func<SqliteConnection, T> write, CancellationToken cancellationToken)
    {
        if (!CanStoreDirectMessages)
            throw new MessageStoreException(Problem ?? "history is read-only");
        return Locked(c =>
        {
            using SqliteTransaction transaction = c.BeginTransaction();
            T result = write(c);
            transaction.Commit();
            return result;
        }, cancellationToken);
    }

    private Task<IReadOnlyList<DirectMessage>> ReadDirect(string sql, string? peerId, int count, bool reverse,
        CancellationToken cancellationToken) =>
        Read<IReadOnlyList<DirectMessage>>(c =>
        {
            using SqliteCommand command = c.CreateCommand();
            command.CommandText = sql;
            command.Parameters.AddWithValue("$peer", (object?)peerId ?? DBNull.Value);
            command.Parameters.AddWithValue("$n", count);
            using SqliteDataReader r = command.ExecuteReader();
            List<DirectMessage> messages = [];
            while (r.Read())
            {
                messages.Add(new DirectMessage(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3),
                    DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(4)), r.GetInt64(5) == 1, r.GetInt64(6) == 1)
                {
                    Action = r.GetInt64(7) == 1,
                });
            }
            if (reverse)
                messages.Reverse();
            return messages;
        }, [], cancellationToken);
}
