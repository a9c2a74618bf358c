using System.Threading.Channels;
using Echo.Core;
using Echo.Core.Chat;
using Echo.Core.Ports;
using Echo.Core.Rooms;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Protocols.Tests.History;

/// <summary>
/// The chat's side of history sync without the rest of the chat: reads an adapter's events and
/// stores each <see cref="HistoryPageFetched"/> with Core's <see cref="RoomChat"/>, as
/// ChatManager's network loop does; the new messages come out of <see cref="Stored"/>.
/// </summary>
internal sealed class HistoryWriterLoop : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Channel<ChatMessage> _stored = Channel.CreateUnbounded<ChatMessage>();
    private readonly Task _loop;
    private int _refused;

    private readonly RoomChat _rooms;

    public HistoryWriterLoop(IChatNetwork network, IMessageStore store)
    {
        _rooms = new RoomChat(network, store, new ChatOptions { Nick = "writer" }, NullLogger.Instance);
        _loop = RunAsync(network.Events, _rooms, _stop.Token);
    }

    /// <summary>Messages of fetched pages that the store did not have yet, in the order they were stored.</summary>
    public ChannelReader<ChatMessage> Stored => _stored.Reader;

    /// <summary>Pages whose receipt was refused (the store failed).</summary>
    public int Refused => Volatile.Read(ref _refused);

    private async Task RunAsync(ChannelReader<NetworkEvent> events, RoomChat writer, CancellationToken cancellationToken)
    {
        await Task.Yield();
        try
        {
            await foreach (NetworkEvent e in events.ReadAllAsync(cancellationToken))
            {
                if (e is not HistoryPageFetched page)
                    continue;
                IReadOnlyList<ChatMessage> added = await writer.AcceptPageAsync(page, cancellationToken);
                if (page.Receipt is { } receipt && await receipt.Outcome is not null)
                    Interlocked.Increment(ref _refused);
                foreach (ChatMessage message in added)
                    _stored.Writer.TryWrite(message);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
        _rooms.Dispose();
    }
}

/// <summary>A history whose next <see cref="FailSyncedWrites"/> page writes fail, as a full disk would.</summary>
internal sealed class FailingStore(IMessageStore inner) : IMessageStore
{
    private int _failSyncedWrites;
    private int _syncedWrites;

    /// <summary>How many of the next synced-page writes fail.</summary>
    public int FailSyncedWrites
    {
        get => Volatile.Read(ref _failSyncedWrites);
        init => _failSyncedWrites = value;
    }

    /// <summary>Synced-page writes asked for so far, failed ones included.</summary>
    public int SyncedWrites => Volatile.Read(ref _syncedWrites);

    public string? Problem => inner.Problem;

    public bool IsReadOnly => inner.IsReadOnly;

    private void MaybeFail()
    {
        Interlocked.Increment(ref _syncedWrites);
        if (Interlocked.Decrement(ref _failSyncedWrites) >= 0)
            throw new MessageStoreException("disk full (test)");
    }

    public Task<IReadOnlyList<ChatMessage>> AddSyncedAsync(string room, string peerId, IReadOnlyList<ChatMessage> messages, HistoryCursor cursor,
        CancellationToken cancellationToken)
    {
        MaybeFail();
        return inner.AddSyncedAsync(room, peerId, messages, cursor, cancellationToken);
    }

    public Task<IReadOnlyList<ChatMessage>> AddSyncedAsync(string room, string peerId, IReadOnlyList<ChatMessage> messages,
        SyncPosition position, CancellationToken cancellationToken)
    {
        MaybeFail();
        return inner.AddSyncedAsync(room, peerId, messages, position, cancellationToken);
    }

    public Task<IReadOnlyList<ChatMessage>> AddAsync(IReadOnlyList<ChatMessage> messages, CancellationToken cancellationToken) =>
        inner.AddAsync(messages, cancellationToken);

    public Task<IReadOnlyList<ChatMessage>> SearchAsync(string room, string text, int count, CancellationToken cancellationToken) =>
        inner.SearchAsync(room, text, count, cancellationToken);

    public Task<HistoryCursor?> GetSyncCursorAsync(string room, string peerId, CancellationToken cancellationToken) =>
        inner.GetSyncCursorAsync(room, peerId, cancellationToken);

    public Task<SyncPosition?> GetSyncPositionAsync(string room, string peerId, CancellationToken cancellationToken) =>
        inner.GetSyncPositionAsync(room, peerId, cancellationToken);

    public Task<ReceivedPage> ReceivedAfterAsync(string room, SyncPosition after, int count, CancellationToken cancellationToken) =>
        inner.ReceivedAfterAsync(room, after, count, cancellationToken);

    public Task<IReadOnlyList<string>> LastReceivedIdsAsync(string room, int count, CancellationToken cancellationToken) =>
        inner.LastReceivedIdsAsync(room, count, cancellationToken);

    public Task<IReadOnlyList<ChatMessage>> AfterAsync(string room, HistoryCursor after, int count, CancellationToken cancellationToken) =>
        inner.AfterAsync(room, after, count, cancellationToken);

    public Task<IReadOnlyList<ChatMessage>> LatestAsync(string room, int count, CancellationToken cancellationToken) =>
        inner.LatestAsync(room, count, cancellationToken);

    public Task<IReadOnlyList<ChatMessage>> BeforeAsync(string room, HistoryCursor before, int count, CancellationToken cancellationToken) =>
        inner.BeforeAsync(room, before, count, cancellationToken);

    public Task<IReadOnlyList<string>> LoadRoomsAsync(CancellationToken cancellationToken) => inner.LoadRoomsAsync(cancellationToken);

    public Task SaveRoomsAsync(IReadOnlyList<string> rooms, CancellationToken cancellationToken) => inner.SaveRoomsAsync(rooms, cancellationToken);

    public Task<string?> LoadCurrentRoomAsync(CancellationToken cancellationToken) => inner.LoadCurrentRoomAsync(cancellationToken);

    public Task SaveRoomsAsync(IReadOnlyList<string> rooms, string? currentRoom, CancellationToken cancellationToken) =>
        inner.SaveRoomsAsync(rooms, currentRoom, cancellationToken);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;   // the inner store has its own owner
}
