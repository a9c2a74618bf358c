using Echo.Core.Ports;

namespace Echo.Core.Direct;

/// <summary>
/// Direct messages in memory only: the outbox lasts as long as the process. Used when no store on
/// disk is configured.
/// </summary>
public sealed class InMemoryDirectStore : IDirectStore
{
    private readonly Lock _gate = new();
    private readonly List<DirectMessage> _messages = [];
    private readonly HashSet<(string, string)> _ids = [];

    public Task<bool> AddAsync(DirectMessage message, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (!_ids.Add((message.PeerId, message.Id)))
                return Task.FromResult(false);
            _messages.Add(message);
            return Task.FromResult(true);
        }
    }

    public Task MarkDeliveredAsync(string peerId, string id, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            int i = _messages.FindIndex(m => m.Outgoing && m.PeerId == peerId && m.Id == id);
            if (i >= 0)
                _messages[i] = _messages[i] with { Delivered = true };
        }
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<DirectMessage>> OutboxAsync(string? peerId, CancellationToken cancellationToken)
    {
        lock (_gate)
            return Task.FromResult<IReadOnlyList<DirectMessage>>(
                [.. _messages.Where(m => m.Outgoing && !m.Delivered && (peerId is null || m.PeerId == peerId))]);
    }

    public Task<IReadOnlyList<DirectMessage>> ConversationAsync(string? peerId, int count, CancellationToken cancellationToken)
    {
        lock (_gate)
            return Task.FromResult<IReadOnlyList<DirectMessage>>([.. _messages.Where(m => peerId is null || m.PeerId == peerId).TakeLast(count)]);
    }
}
