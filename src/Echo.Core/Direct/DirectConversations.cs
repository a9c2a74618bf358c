using Echo.Core.Conversations;
using Echo.Core.Ports;

namespace Echo.Core.Direct;

/// <summary>
/// The direct conversations in memory, as a room's messages are: one <see cref="ConversationLog{T}"/>
/// per peer (ordered, each message once, at most <c>capacity</c> messages), filled from the store
/// at start (<see cref="Load"/>) and by every direct message shown (<see cref="Show"/>) or
/// acknowledged (<see cref="MarkDelivered"/>). At most <see cref="MaxConversations"/> are kept; a
/// new one beyond that drops the one quiet the longest (its messages stay in the store).
/// </summary>
/// <remarks>Not thread-safe: <see cref="DirectMessaging"/> calls it under the chat's lock.</remarks>
internal sealed class DirectConversations
{
    /// <summary>How many direct conversations are kept in memory.</summary>
    public const int MaxConversations = 64;

    private readonly Dictionary<string, ConversationLog<DirectMessage>> _logs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _lastActive = new(StringComparer.Ordinal);
    private readonly int _capacity;
    private long _activity;

    /// <param name="capacity">Messages kept per conversation (the oldest go first).</param>
    public DirectConversations(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _capacity = capacity;
    }

    /// <summary>The peers with a conversation, the one whose oldest kept message is oldest first.</summary>
    public IReadOnlyList<string> Peers =>
        [.. _logs.Where(l => l.Value.Count > 0).OrderBy(l => l.Value.Oldest!.Value).Select(l => l.Key)];

    /// <summary>The messages kept of the conversation with <paramref name="peerId"/>, oldest first.</summary>
    public IReadOnlyList<DirectMessage> Messages(string peerId) =>
        _logs.TryGetValue(peerId, out ConversationLog<DirectMessage>? log) ? [.. log.Items] : [];

    /// <summary>Every conversation's messages, conversation after conversation in the order of <see cref="Peers"/>.</summary>
    public IReadOnlyList<DirectMessage> All() => [.. Peers.SelectMany(p => _logs[p].Items)];

    /// <summary>
    /// A live message (sent, or arrived) at the end of its conversation. Returns false when it is
    /// there already; else true, with <paramref name="after"/> the id of the message it follows (null
    /// when it is the first).
    /// </summary>
    public bool Show(DirectMessage message, out string? after)
    {
        ConversationLog<DirectMessage> log = LogOf(message.PeerId);
        int index = log.Append(message, message.Id, Place(message));
        after = index > 0 ? log.IdAt(index - 1) : null;
        return index >= 0;
    }

    /// <summary>
    /// Stored messages (oldest first), leaving out those already here: a conversation that was empty
    /// takes them in the store's order; one that has live messages already, each in its place in time.
    /// </summary>
    public void Load(IReadOnlyList<DirectMessage> stored)
    {
        HashSet<string> fresh = [.. stored.Select(m => m.PeerId).Where(p => !_logs.TryGetValue(p, out ConversationLog<DirectMessage>? log) || log.Count == 0)];
        foreach (DirectMessage message in stored)
        {
            ConversationLog<DirectMessage> log = LogOf(message.PeerId);
            if (fresh.Contains(message.PeerId))
                log.Append(message, message.Id, Place(message));
            else
                log.Insert(message, message.Id, Place(message));
        }
    }

    /// <summary>Our message <paramref name="id"/> to <paramref name="peerId"/> was acknowledged; false when it is not kept.</summary>
    public bool MarkDelivered(string peerId, string id)
    {
        if (!_logs.TryGetValue(peerId, out ConversationLog<DirectMessage>? log))
            return false;
        for (int i = log.Count - 1; i >= 0; i--)
        {
            if (log.IdAt(i) == id)
                return log.Replace(id, log.Items[i] with { Delivered = true });
        }
        return false;
    }

    private static HistoryCursor Place(DirectMessage message) => new(message.Timestamp.ToUnixTimeMilliseconds(), message.Id);

    private ConversationLog<DirectMessage> LogOf(string peerId)
    {
        _lastActive[peerId] = ++_activity;
        if (_logs.TryGetValue(peerId, out ConversationLog<DirectMessage>? log))
            return log;
        if (_logs.Count >= MaxConversations)
        {
            string quietest = _logs.Keys.MinBy(p => _lastActive[p])!;
            _logs.Remove(quietest);
            _lastActive.Remove(quietest);
        }
        return _logs[peerId] = new ConversationLog<DirectMessage>(_capacity);
    }
}
