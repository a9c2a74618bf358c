using Echo.Core.Chat;
using Echo.Core.Ports;
using Microsoft.Data.Sqlite;

namespace Echo.Storage;

/// <summary>
/// History sync by receive order: <c>messages.seq</c> numbers the messages in the order this file
/// received them and <c>store_info.receive_epoch</c> names that numbering, so a peer's cursor into
/// this store (<see cref="SyncPosition"/>) never depends on anybody's clock.
/// </summary>
public sealed partial class SqliteMessageStore
{
    private string? _epoch;

    /// <inheritdoc />
    public Task<ReceivedPage> ReceivedAfterAsync(string room, SyncPosition after, int count, CancellationToken cancellationToken) =>
        Read(c =>
        {
            string epoch = Epoch(c);
            // Another epoch's numbers mean nothing here (this file is new, or another one): from the start.
            long from = after.Epoch == epoch && epoch.Length > 0 ? Math.Max(0, after.Seq) : 0;
            using SqliteCommand command = c.CreateCommand();
            command.CommandText = $"SELECT {Columns}, seq FROM messages WHERE room = $room AND seq > $seq ORDER BY seq LIMIT $n";
            command.Parameters.AddWithValue("$room", room);
            command.Parameters.AddWithValue("$seq", from);
            command.Parameters.AddWithValue("$n", Math.Max(0, count));
            using SqliteDataReader reader = command.ExecuteReader();
            List<ReceivedMessage> messages = [];
            while (reader.Read())
                messages.Add(new ReceivedMessage(reader.GetInt64(14), ReadMessage(reader)));
            return new ReceivedPage(epoch, messages);
        }, new ReceivedPage("", []), cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<string>> LastReceivedIdsAsync(string room, int count, CancellationToken cancellationToken) =>
        Read<IReadOnlyList<string>>(c =>
        {
            using SqliteCommand command = c.CreateCommand();
            command.CommandText = "SELECT id FROM messages WHERE room = $room ORDER BY seq DESC LIMIT $n";
            command.Parameters.AddWithValue("$room", room);
            command.Parameters.AddWithValue("$n", Math.Max(0, count));
            using SqliteDataReader reader = command.ExecuteReader();
            List<string> ids = [];
            while (reader.Read())
                ids.Add(reader.GetString(0));
            return ids;
        }, [], cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<ChatMessage>> AddSyncedAsync(string room, string peerId, IReadOnlyList<ChatMessage> messages,
        SyncPosition position, CancellationToken cancellationToken) =>
        Write(c =>
        {
            IReadOnlyList<ChatMessage> added = Insert(c, messages);
            using SqliteCommand command = c.CreateCommand();
            command.CommandText = """
                INSERT INTO sync_positions (room, peer, epoch, seq) VALUES ($room, $peer, $epoch, $seq)
                ON CONFLICT (room, peer) DO UPDATE SET epoch = excluded.epoch, seq = excluded.seq
                """;
            command.Parameters.AddWithValue("$room", room);
            command.Parameters.AddWithValue("$peer", peerId);
            command.Parameters.AddWithValue("$epoch", position.Epoch);
            command.Parameters.AddWithValue("$seq", position.Seq);
            command.ExecuteNonQuery();
            return added;
        }, cancellationToken);

    /// <inheritdoc />
    public Task<SyncPosition?> GetSyncPositionAsync(string room, string peerId, CancellationToken cancellationToken) =>
        Read<SyncPosition?>(c =>
        {
            using SqliteCommand command = c.CreateCommand();
            command.CommandText = "SELECT epoch, seq FROM sync_positions WHERE room = $room AND peer = $peer";
            command.Parameters.AddWithValue("$room", room);
            command.Parameters.AddWithValue("$peer", peerId);
            using SqliteDataReader reader = command.ExecuteReader();
            return reader.Read() ? new SyncPosition(reader.GetString(0), reader.GetInt64(1)) : null;
        }, null, cancellationToken);

    /// <summary>This file's receive-order name (read once; called under the connection's lock).</summary>
    private string Epoch(SqliteConnection connection) =>
        _epoch ??= Scalar(connection, "SELECT value FROM store_info WHERE key = 'receive_epoch'") as string ?? "";
}
