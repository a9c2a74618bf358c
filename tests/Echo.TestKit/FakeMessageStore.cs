using Echo.Core.Chat;
using Echo.Core.Ports;

namespace Echo.TestKit;

/// <summary>An in-memory <see cref="IMessageStore"/> whose writes a test can hold back, to see what waits for them.</summary>
public sealed class FakeMessageStore : IMessageStore
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, ChatMessage> _messages = new(StringComparer.Ordinal);
    private List<string> _rooms = [];
    private string? _currentRoom;

    /// <summary>Completed unless a test wants writes to wait.</summary>
    public TaskCompletionSource WritesMayFinish { get; set; } = Completed();

    public string? Problem { get; init; }

    public bool IsReadOnly { get; init; }

    public int Writes { get; private set; }

    /// <summary>When set, writes fail with this reason (a full disk).</summary>
    public string? FailWrites { get; set; }

    public IReadOnlyList<ChatMessage> Stored
    {
        get { lock (_gate) return [.. _messages.Values.OrderBy(HistoryCursor.Of)]; }
    }

    public static TaskCompletionSource Completed()
    {
        TaskCompletionSource done = new();
        done.SetResult();
        return done;
    }

    public void Seed(IEnumerable<ChatMessage> messages, params string[] rooms)
    {
        lock (_gate)
        {
            foreach (ChatMessage m in messages)
                _messages[m.Id] = m;
            _rooms = [.. rooms];
        }
    }

    /// <summary>One item per write that started, before it waits for <see cref="WritesMayFinish"/>.</summary>
    public System.Threading.Channels.Channel<IReadOnlyList<ChatMessage>> WritesStarted { get; } =
        System.Threading.Channels.Channel.CreateUnbounded<IReadOnlyList<ChatMessage>>();

    public async Task<IReadOnlyList<ChatMessage>> AddAsync(IReadOnlyList<ChatMessage> messages, CancellationToken cancellationToken)
    {
        WritesStarted.Writer.TryWrite(messages);
        await WritesMayFinish.Task.WaitAsync(cancellationToken);
        if (FailWrites is { } reason)
            throw new MessageStoreException(reason);
        lock (_gate)
        {
            Writes++;
            return [.. messages.Where(m => _messages.TryAdd(m.Id, m))];
        }
    }

    public Task<IReadOnlyList<ChatMessage>> AddSyncedAsync(string room, string peerId, IReadOnlyList<ChatMessage> messages,
        HistoryCursor cursor, CancellationToken cancellationToken) => AddAsync(messages, cancellationToken);

    public Task<HistoryCursor?> GetSyncCursorAsync(string room, string peerId, CancellationToken cancellationToken) =>
        Task.FromResult<HistoryCursor?>(null);

    public Task<ReceivedPage> ReceivedAfterAsync(string room, SyncPosition after, int count, CancellationToken cancellationToken) =>
        Task.FromResult(new ReceivedPage("", []));

    public Task<IReadOnlyList<string>> LastReceivedIdsAsync(string room, int count, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<string>>([]);

    public Task<IReadOnlyList<ChatMessage>> AddSyncedAsync(string room, string peerId, IReadOnlyList<ChatMessage> messages,
        SyncPosition position, CancellationToken cancellationToken) => AddAsync(messages, cancellationToken);

    public Task<SyncPosition?> GetSyncPositionAsync(string room, string peerId, CancellationToken cancellationToken) =>
        Task.FromResult<SyncPosition?>(null);

    public Task<IReadOnlyList<ChatMessage>> LatestAsync(string room, int count, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<ChatMessage>>([.. InRoom(room).TakeLast(count)]);

    public Task<IReadOnlyList<ChatMessage>> BeforeAsync(string room, HistoryCursor before, int count, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<ChatMessage>>([.. InRoom(room).Where(m => HistoryCursor.Of(m).CompareTo(before) < 0).TakeLast(count)]);

    public Task<IReadOnlyList<ChatMessage>> AfterAsync(string room, HistoryCursor after, int count, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<ChatMessage>>([.. InRoom(room).Where(m => HistoryCursor.Of(m).CompareTo(after) > 0).Take(count)]);

    public Task<IReadOnlyList<ChatMessage>> SearchAsync(string room, string text, int count, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<ChatMessage>>(text.Length == 0
            ? []
            : [.. InRoom(room).Where(m => m.Text.Contains(text, StringComparison.OrdinalIgnoreCase)).TakeLast(count)]);

    public Task<IReadOnlyList<string>> LoadRoomsAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
            return Task.FromResult<IReadOnlyList<string>>([.. _rooms]);
    }

    public Task SaveRoomsAsync(IReadOnlyList<string> rooms, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _rooms = [.. rooms];
            if (_currentRoom is not null && !_rooms.Contains(_currentRoom))
                _currentRoom = null;
        }
        return Task.CompletedTask;
    }

    public Task<string?> LoadCurrentRoomAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
            return Task.FromResult(_currentRoom);
    }

    public Task SaveRoomsAsync(IReadOnlyList<string> rooms, string? currentRoom, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _rooms = [.. rooms];
            _currentRoom = currentRoom is not null && _rooms.Contains(currentRoom) ? currentRoom : null;
        }
        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private List<ChatMessage> InRoom(string room)
    {
        lock (_gate)
            return [.. _messages.Values.Where(m => m.Room == room).OrderBy(HistoryCursor.Of)];
    }
}
