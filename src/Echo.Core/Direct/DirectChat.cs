using Echo.Core.Events;
using Echo.Core.Ports;
using Microsoft.Extensions.Logging;

namespace Echo.Core.Direct;

/// <summary>
/// Direct messages: each is stored in the outbox before it is shown, sent when the peer is
/// connected, and leaves the outbox when the peer acknowledges it; the outbox is sent again, in
/// order, whenever the peer connects. Received messages are stored and shown once per id.
/// </summary>
internal sealed class DirectChat : IAsyncDisposable
{
    private readonly IDirectNetwork _network;
    private readonly IDirectStore _store;
    private readonly Action<ChatEvent> _publish;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, SemaphoreSlim> _sending = new(StringComparer.Ordinal);
    private readonly BackgroundTasks _background = new();
    private readonly CancellationTokenSource _stopping = new();

    public DirectChat(IDirectNetwork network, IDirectStore store, Action<ChatEvent> publish, ILogger logger, TimeProvider? time = null)
    {
        _network = network;
        _store = store;
        _publish = publish;
        _logger = logger;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>The store, for views that show a conversation's past.</summary>
    public IDirectStore Store => _store;

    /// <summary>Queues <paramref name="text"/> for <paramref name="peerId"/>, shows it, and sends it if the peer is connected.</summary>
    public async Task SendAsync(string peerId, string nick, string text, CancellationToken cancellationToken)
    {
        DateTimeOffset now = DateTimeOffset.FromUnixTimeMilliseconds(_time.GetUtcNow().ToUnixTimeMilliseconds());
        DirectMessage message = new(DirectIds.New(), peerId, nick, text, now, Outgoing: true, Delivered: false);
        try
        {
            await _store.AddAsync(message, cancellationToken).ConfigureAwait(false);
        }
        catch (MessageStoreException e)
        {
            _publish(new ErrorEvent($"not sent: the message could not be stored: {e.Message}"));
            return;
        }
        _publish(new DirectMessageEvent(message));
        await FlushAsync(peerId, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stores and shows a message that arrived (a resent one is shown once).</summary>
    public async Task OnArrivedAsync(string peerId, DirectEnvelope envelope, CancellationToken cancellationToken)
    {
        if (envelope.Text is null)
            return;
        DirectMessage message = new(envelope.Id, peerId, envelope.Nick, envelope.Text, envelope.Timestamp, Outgoing: false, Delivered: true);
        bool isNew = true;
        try
        {
            isNew = await _store.AddAsync(message, cancellationToken).ConfigureAwait(false);
        }
        catch (MessageStoreException e)
        {
            Log.DirectNotStored(_logger, message.Id, peerId, e.Message);   // shown all the same
        }
        if (isNew)
            _publish(new DirectMessageEvent(message));
    }

    /// <summary>A peer connected: what waits in its outbox goes now.</summary>
    public void OnPeerConnected(string peerId) => Track(FlushQuietlyAsync(peerId));

    /// <summary>Sends the outbox of all connected peers (at start, for messages a previous run left).</summary>
    public async Task FlushAllAsync(CancellationToken cancellationToken)
    {
        IReadOnlyList<DirectMessage> outbox;
        try
        {
            outbox = await _store.OutboxAsync(null, cancellationToken).ConfigureAwait(false);
        }
        catch (MessageStoreException e)
        {
            Log.DirectNotStored(_logger, "outbox", "all peers", e.Message);
            return;
        }
        foreach (string peerId in outbox.Select(m => m.PeerId).Distinct())
            OnPeerConnected(peerId);
    }

    private async Task FlushQuietlyAsync(string peerId)
    {
        try
        {
            await FlushAsync(peerId, _stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
    }

    /// <summary>Sends <paramref name="peerId"/>'s outbox in order; stops at the first message that is not acknowledged.</summary>
    private async Task FlushAsync(string peerId, CancellationToken cancellationToken)
    {
        SemaphoreSlim gate;
        lock (_gate)
        {
            if (!_sending.TryGetValue(peerId, out gate!))
                _sending[peerId] = gate = new SemaphoreSlim(1, 1);
        }
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!_network.IsConnected(peerId))
                return;
            IReadOnlyList<DirectMessage> outbox;
            try
            {
                outbox = await _store.OutboxAsync(peerId, cancellationToken).ConfigureAwait(false);
            }
            catch (MessageStoreException e)
            {
                Log.DirectNotStored(_logger, "outbox", peerId, e.Message);
                return;
            }
            foreach (DirectMessage message in outbox)
            {
                try
                {
                    await _network.SendDirectAsync(peerId, new DirectEnvelope(message.Id, message.Nick, message.Timestamp, message.Text, null),
                        cancellationToken).ConfigureAwait(false);
                }
                catch (ChatNetworkException e)
                {
                    Log.DirectNotDelivered(_logger, message.Id, peerId, e.Message);
                    return;
                }
                try
                {
                    await _store.MarkDeliveredAsync(peerId, message.Id, cancellationToken).ConfigureAwait(false);
                }
                catch (MessageStoreException e)
                {
                    Log.DirectNotStored(_logger, message.Id, peerId, e.Message);   // it may be sent again; the peer shows it once
                }
                _publish(new DirectDeliveredEvent(peerId, message.Id));
            }
        }
        finally
        {
            gate.Release();
        }
    }

    private void Track(Task task) => _background.Track(task);

    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
            return;
        await _stopping.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_background.Snapshot()).WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }
}
