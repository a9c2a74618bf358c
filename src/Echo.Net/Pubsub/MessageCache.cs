using Echo.Net.Identity;

namespace Echo.Net.Pubsub;

/// <summary>
/// The gossipsub message cache (gossipsub-v1.0.md "Message Cache"): messages of the last
/// <c>historyLength</c> heartbeats, answerable by IWANT, of which the last <c>historyGossip</c> are
/// advertised in IHAVE. It also counts how often each message went to each peer through IWANT, so a
/// peer asking again and again gets it a bounded number of times (v1.1 spam protection). Not thread-safe.
/// </summary>
internal sealed class MessageCache
{
    private readonly Dictionary<MessageId, Entry> _entries = [];
    private readonly List<List<(MessageId Id, string Topic)>> _windows = [];
    private readonly int _historyGossip;

    public MessageCache(int historyLength, int historyGossip)
    {
        _historyGossip = historyGossip;
        for (int i = 0; i < historyLength; i++)
            _windows.Add([]);
    }

    public int Count => _entries.Count;

    public void Put(MessageId id, PubsubMessage message)
    {
        if (_entries.TryAdd(id, new Entry(message)))
            _windows[0].Add((id, message.Topic));
    }

    public PubsubMessage? Get(MessageId id) => _entries.TryGetValue(id, out Entry? entry) ? entry.Message : null;

    /// <summary>The message for an IWANT from <paramref name="peer"/>, or null once it has had <paramref name="maxTransmissions"/> copies.</summary>
    public PubsubMessage? GetForPeer(MessageId id, PeerId peer, int maxTransmissions)
    {
        if (!_entries.TryGetValue(id, out Entry? entry))
            return null;
        entry.Transmissions ??= [];
        int count = entry.Transmissions.GetValueOrDefault(peer) + 1;
        entry.Transmissions[peer] = count;
        return count > maxTransmissions ? null : entry.Message;
    }

    /// <summary>Ids of the topic's messages in the gossip windows, newest first.</summary>
    public List<MessageId> GossipIds(string topic)
    {
        List<MessageId> ids = [];
        for (int i = 0; i < _historyGossip && i < _windows.Count; i++)
        {
            foreach ((MessageId id, string t) in _windows[i])
            {
                if (string.Equals(t, topic, StringComparison.Ordinal))
                    ids.Add(id);
            }
        }
        return ids;
    }

    /// <summary>Starts a new window and forgets the oldest one's messages.</summary>
    public void Shift()
    {
        List<(MessageId Id, string Topic)> oldest = _windows[^1];
        foreach ((MessageId id, _) in oldest)
            _entries.Remove(id);
        _windows.RemoveAt(_windows.Count - 1);
        oldest.Clear();
        _windows.Insert(0, oldest);
    }

    private sealed class Entry(PubsubMessage message)
    {
        public PubsubMessage Message { get; } = message;
        public Dictionary<PeerId, int>? Transmissions { get; set; }
    }
}
