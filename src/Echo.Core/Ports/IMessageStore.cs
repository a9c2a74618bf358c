using Echo.Core.Chat;

namespace Echo.Core.Ports;

/// <summary>
/// A position in a room's history: messages are ordered by <see cref="Timestamp"/> (unix
/// milliseconds), then by <see cref="Id"/> (ordinal), so every node orders a room the same way.
/// </summary>
public readonly record struct HistoryCursor(long TimestampMs, string Id) : IComparable<HistoryCursor>
{
    /// <summary>Before every message.</summary>
    public static HistoryCursor Start => new(long.MinValue, "");

    /// <summary>After every message.</summary>
    public static HistoryCursor End => new(long.MaxValue, "");

    /// <summary>The position of <paramref name="message"/>.</summary>
    public static HistoryCursor Of(ChatMessage message) => new(message.Timestamp.ToUnixTimeMilliseconds(), message.Id);

    /// <summary>History order: by time, then by id.</summary>
    public int CompareTo(HistoryCursor other)
    {
        int byTime = TimestampMs.CompareTo(other.TimestampMs);
        return byTime != 0 ? byTime : string.CompareOrdinal(Id, other.Id);
    }

    /// <summary>True when <paramref name="left"/> comes before <paramref name="right"/> in history order.</summary>
    public static bool operator <(HistoryCursor left, HistoryCursor right) => left.CompareTo(right) < 0;

    /// <summary>True when <paramref name="left"/> does not come after <paramref name="right"/>.</summary>
    public static bool operator <=(HistoryCursor left, HistoryCursor right) => left.CompareTo(right) <= 0;

    /// <summary>True when <paramref name="left"/> comes after <paramref name="right"/> in history order.</summary>
    public static bool operator >(HistoryCursor left, HistoryCursor right) => left.CompareTo(right) > 0;

    /// <summary>True when <paramref name="left"/> does not come before <paramref name="right"/>.</summary>
    public static bool operator >=(HistoryCursor left, HistoryCursor right) => left.CompareTo(right) >= 0;
}

/// <summary>
/// The chat's history on disk: every message of every room, the rooms we are in, and how far
/// history sync got with each peer. Implemented by Echo.Storage; every method is safe to call from
/// several threads. Writes are durable when the returned task completes. Only the chat writes it;
/// history sync reads it through <see cref="IHistoryReader"/>.
/// </summary>
public interface IMessageStore : IHistoryReader, IAsyncDisposable
{
    /// <summary>Null when the store works; otherwise what is wrong, in words for the user (e.g. a damaged file).</summary>
    string? Problem { get; }

    /// <summary>True when nothing can be written this session (a damaged file is kept as it is).</summary>
    bool IsReadOnly { get; }

    /// <summary>
    /// Stores messages; one that is already stored (same id) is skipped. Returns the ones that were
    /// new, in the given order. Throws <see cref="MessageStoreException"/> when it cannot write.
    /// </summary>
    Task<IReadOnlyList<ChatMessage>> AddAsync(IReadOnlyList<ChatMessage> messages, CancellationToken cancellationToken);

    /// <summary>
    /// Stores messages that history sync fetched from <paramref name="peerId"/> (a peer that only
    /// answers in time order) and records <paramref name="cursor"/> as how far sync with that peer got in <paramref name="room"/>, in one
    /// transaction. Returns the messages that were new.
    /// </summary>
    Task<IReadOnlyList<ChatMessage>> AddSyncedAsync(string room, string peerId, IReadOnlyList<ChatMessage> messages,
        HistoryCursor cursor, CancellationToken cancellationToken);

    /// <summary>
    /// Stores messages that history sync fetched from <paramref name="peerId"/> and records
    /// <paramref name="position"/> (in that peer's receive order) as how far sync with it got in
    /// <paramref name="room"/>, in one transaction. Returns the messages that were new.
    /// </summary>
    Task<IReadOnlyList<ChatMessage>> AddSyncedAsync(string room, string peerId, IReadOnlyList<ChatMessage> messages,
        SyncPosition position, CancellationToken cancellationToken);

    /// <summary>The newest <paramref name="count"/> messages of <paramref name="room"/>, oldest first.</summary>
    Task<IReadOnlyList<ChatMessage>> LatestAsync(string room, int count, CancellationToken cancellationToken);

    /// <summary>Up to <paramref name="count"/> messages right before <paramref name="before"/>, oldest first.</summary>
    Task<IReadOnlyList<ChatMessage>> BeforeAsync(string room, HistoryCursor before, int count, CancellationToken cancellationToken);

    /// <summary>
    /// The newest <paramref name="count"/> messages of <paramref name="room"/> whose text contains
    /// <paramref name="text"/> (ignoring ASCII case; every character taken literally), oldest first.
    /// </summary>
    Task<IReadOnlyList<ChatMessage>> SearchAsync(string room, string text, int count, CancellationToken cancellationToken);

    /// <summary>The rooms we were in when last saved, in their order (joining order, or as the user moved them).</summary>
    Task<IReadOnlyList<string>> LoadRoomsAsync(CancellationToken cancellationToken);

    /// <summary>Saves the rooms we are in, in their order; the current room stays marked if it is among them.</summary>
    Task SaveRoomsAsync(IReadOnlyList<string> rooms, CancellationToken cancellationToken);

    /// <summary>The room that was current when last saved (one of <see cref="LoadRoomsAsync"/>'s), or null.</summary>
    Task<string?> LoadCurrentRoomAsync(CancellationToken cancellationToken);

    /// <summary>Saves the rooms we are in, in their order, and which of them is current, in one write.</summary>
    Task SaveRoomsAsync(IReadOnlyList<string> rooms, string? currentRoom, CancellationToken cancellationToken);
}

/// <summary>The history store cannot do what was asked; the message says why in words for the user.</summary>
public sealed class MessageStoreException(string message, Exception? inner = null) : Exception(message, inner);
