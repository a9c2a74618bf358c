using Echo.Core.Direct;

namespace Echo.Core.Ports;

/// <summary>
/// Where direct messages are kept: every conversation, and the outbox (sent messages the recipient
/// has not acknowledged yet), which is retried when the peer connects. Every method is safe to call
/// from several threads.
/// </summary>
public interface IDirectStore
{
    /// <summary>Stores a message; one already stored (same id and peer) is left as it is. Returns true when it was new.</summary>
    Task<bool> AddAsync(DirectMessage message, CancellationToken cancellationToken);

    /// <summary>
    /// Stores several messages at once (a store on disk does it in one transaction, one sync); for each,
    /// true when it was new. Either all are stored or, with a <see cref="MessageStoreException"/>, none.
    /// </summary>
    async Task<IReadOnlyList<bool>> AddAllAsync(IReadOnlyList<DirectMessage> messages, CancellationToken cancellationToken)
    {
        bool[] added = new bool[messages.Count];
        for (int i = 0; i < messages.Count; i++)
            added[i] = await AddAsync(messages[i], cancellationToken).ConfigureAwait(false);
        return added;
    }

    /// <summary>Marks our message <paramref name="id"/> to <paramref name="peerId"/> delivered (it leaves the outbox).</summary>
    Task MarkDeliveredAsync(string peerId, string id, CancellationToken cancellationToken);

    /// <summary>Our undelivered messages, oldest first; all peers when <paramref name="peerId"/> is null.</summary>
    Task<IReadOnlyList<DirectMessage>> OutboxAsync(string? peerId, CancellationToken cancellationToken);

    /// <summary>The newest <paramref name="count"/> messages with <paramref name="peerId"/> (with anyone when null), oldest first.</summary>
    Task<IReadOnlyList<DirectMessage>> ConversationAsync(string? peerId, int count, CancellationToken cancellationToken);
}
