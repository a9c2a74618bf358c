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
    private readonly StoreHealth _health;
    private readonly string? _notDurable;
    private readonly BoundedIdSet _shownUnsaved = new(4096);

    /// <summary>What the sender of a message we could not store is told.</summary>
    internal const string NotStored = "the receiver could not store it";

    /// <param name="health">Tells the user once when the store fails; messages are then shown marked "not saved".</param>
    /// <param name="notDurable">
    /// Why <paramref name="store"/> does not outlive the process when it stands in for a store on disk
    /// that cannot be written (null when it is the configured store): arrivals are then refused, not
    /// acknowledged, and everything shown is marked "not saved".
    /// </param>
    public DirectChat(IDirectNetwork network, IDirectStore store, Action<ChatEvent> publish, ILogger logger, TimeProvider? time = null,
        StoreHealth? health = null, string? notDurable = null)
    {
        _network = network;
        _store = store;
        _publish = publish;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _health = health ?? new StoreHealth(publish);
        _notDurable = notDurable;
    }

    /// <summary>The store, for views that show a conversation's past.</summary>
    public IDirectStore Store => _store;

    /// <summary>Queues <paramref name="text"/> for <paramref name="peerId"/>, shows it, and sends it if the peer is connected.</summary>
    public Task SendAsync(string peerId, string nick, string text, CancellationToken cancellationToken) =>
        SendAsync(peerId, nick, text, action: false, cancellationToken);

    /// <summary>The same; with <paramref name="action"/>, <paramref name="text"/> is a /me action.</summary>
    public async Task SendAsync(string peerId, string nick, string text, bool action, CancellationToken cancellationToken)
    {
        DateTimeOffset now = DateTimeOffset.FromUnixTimeMilliseconds(_time.GetUtcNow().ToUnixTimeMilliseconds());
        DirectMessage message = new(DirectIds.New(), peerId, nick, text, now, Outgoing: true, Delivered: false) { Action = action };
        try
        {
            await _store.AddAsync(message, cancellationToken).ConfigureAwait(false);
        }
        catch (MessageStoreException e)
        {
            Log.DirectNotStored(_logger, message.Id, peerId, e.Message);
            _health.Failed(e.Message);
            message = message with { NotSaved = true };
            _publish(new DirectMessageEvent(message));
            await SendUnsavedAsync(message, cancellationToken).ConfigureAwait(false);
            return;
        }
        _publish(new DirectMessageEvent(message with { NotSaved = _notDurable is not null }));
        await FlushAsync(peerId, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The frame of a message of ours: an action carries its flag (the network sends the readable text with it).</summary>
    private static DirectEnvelope Envelope(DirectMessage message) =>
        new(message.Id, message.Nick, message.Timestamp, message.Text, null) { Action = message.Action };

    /// <summary>
    /// Sends once a message the store could not keep: there is no outbox entry to retry it from, so
    /// a failure is the user's to know.
    /// </summary>
    private async Task SendUnsavedAsync(DirectMessage message, CancellationToken cancellationToken)
    {
        try
        {
            if (!_network.IsConnected(message.PeerId))
                throw new ChatNetworkException("the peer is not connected, and the message could not be saved to wait for it");
            await _network.SendDirectAsync(message.PeerId, Envelope(message),
                cancellationToken).ConfigureAwait(false);
        }
        catch (ChatNetworkException e)
        {
            _publish(new ErrorEvent($"not delivered (and not saved, so not retried): {e.Message}"));
            return;
        }
        _publish(new DirectDeliveredEvent(message.PeerId, message.Id));
    }

    /// <summary>
    /// Stores the messages that arrived together in one write, then settles each receipt (so the
    /// network acknowledges them) and shows each once: a resent one is acknowledged again but not
    /// shown again. When the store fails, they are refused (their senders keep them and send them
    /// again) and shown marked "not saved".
    /// </summary>
    public async Task OnArrivedAsync(IReadOnlyList<(string PeerId, DirectEnvelope Envelope, DirectReceipt? Receipt)> arrivals,
        CancellationToken cancellationToken)
    {
        List<DirectMessage> messages = [];
        List<DirectReceipt?> receipts = [];
        foreach ((string peerId, DirectEnvelope envelope, DirectReceipt? receipt) in arrivals)
        {
            if (envelope.Text is null)
            {
                receipt?.Stored();
                continue;
            }
            messages.Add(new DirectMessage(envelope.Id, peerId, envelope.Nick, envelope.Text, envelope.Timestamp, Outgoing: false, Delivered: true)
            {
                Action = envelope.Action,
            });
            receipts.Add(receipt);
        }
        if (messages.Count == 0)
            return;
        string? problem = _notDurable;
        IReadOnlyList<bool> added = [];
        if (problem is null)
        {
            try
            {
                added = await _store.AddAllAsync(messages, cancellationToken).ConfigureAwait(false);
                _health.Succeeded();
            }
            catch (MessageStoreException e)
            {
                Log.DirectNotStored(_logger, messages[0].Id, messages[0].PeerId, e.Message);
                _health.Failed(e.Message);
                problem = e.Message;
            }
            catch (OperationCanceledException)
            {
                foreach (DirectReceipt? receipt in receipts)
                    receipt?.Refused("the receiver is stopping");
                throw;
            }
        }
        for (int i = 0; i < messages.Count; i++)
        {
            DirectMessage message = messages[i];
            string key = message.PeerId + "/" + message.Id;
            if (problem is not null)
            {
                if (_shownUnsaved.Add(key))
                    _publish(new DirectMessageEvent(message with { NotSaved = true }));
                receipts[i]?.Refused(NotStored);   // the reason stays here: it names our files
                continue;
            }
            if (added[i] && !_shownUnsaved.Contains(key))
                _publish(new DirectMessageEvent(message));
            receipts[i]?.Stored();
        }
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
                    await _network.SendDirectAsync(peerId, Envelope(message),
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

    public void Track(Task task) => _background.Track(task);

    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
            return;
        await _stopping.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_background.Snapshot()).WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }
}
