using Echo.Core.Chat;
using Echo.Core.Events;
using Echo.Core.Ports;
using Microsoft.Extensions.Logging;

namespace Echo.Core.Direct;

/// <summary>
/// Reaching the peer a /msg or /get needs when it is not connected: says "connecting to bob…",
/// dials it through <see cref="IPeerDialer"/> and gives up after a bounded wait with the reason.
/// One dial per peer at a time; callers that need the same peer share it.
/// </summary>
internal sealed class PeerDialing : IAsyncDisposable
{
    private readonly IDirectNetwork _network;
    private readonly IPeerDialer? _dialer;
    private readonly TimeSpan _bound;
    private readonly Action<ChatEvent> _publish;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Task<string?>> _dialing = new(StringComparer.Ordinal);
    private readonly BackgroundTasks _background = new();
    private readonly CancellationTokenSource _stopping = new();

    /// <param name="bound">How long one attempt to reach a peer may take before it fails.</param>
    public PeerDialing(IDirectNetwork network, TimeSpan bound, Action<ChatEvent> publish, ILogger logger, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(bound, TimeSpan.Zero);
        _network = network;
        _dialer = network as IPeerDialer;
        _bound = bound;
        _publish = publish;
        _logger = logger;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>The wait after which a peer that does not answer counts as unreachable.</summary>
    public TimeSpan Bound => _bound;

    /// <summary>
    /// Makes sure <paramref name="peerId"/> (shown as <paramref name="name"/>) is connected: null once
    /// it is, else why it could not be reached within the bound.
    /// </summary>
    public async Task<string?> ConnectAsync(string peerId, string name, IReadOnlyList<string> hints, CancellationToken cancellationToken)
    {
        if (_network.IsConnected(peerId))
            return null;
        if (_dialer is null)
            return "it is not connected";
        Task<string?> dial;
        lock (_gate)
        {
            if (_stopping.IsCancellationRequested)
                throw new OperationCanceledException(_stopping.Token);
            if (!_dialing.TryGetValue(peerId, out dial!))
            {
                _publish(new NoticeEvent($"connecting to {SafeText.ForDisplay(name)}…"));
                _dialing[peerId] = dial = DialAsync(peerId, hints);
                _background.Track(dial);
            }
        }
        return await dial.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Reaches <paramref name="peerId"/> in the background (for a direct message, whose sender does
    /// not wait) and calls <paramref name="then"/> with null once connected, else with the reason.
    /// </summary>
    public void Reach(string peerId, string name, IReadOnlyList<string> hints, Action<string?> then)
    {
        _background.Track(ReachAsync(peerId, name, hints, then));
    }

    private async Task ReachAsync(string peerId, string name, IReadOnlyList<string> hints, Action<string?> then)
    {
        try
        {
            then(await ConnectAsync(peerId, name, hints, _stopping.Token).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
    }

    private async Task<string?> DialAsync(string peerId, IReadOnlyList<string> hints)
    {
        await Task.Yield();   // leave the caller's lock first
        try
        {
            using CancellationTokenSource bound = new(_bound, _time);
            using CancellationTokenSource limit = CancellationTokenSource.CreateLinkedTokenSource(bound.Token, _stopping.Token);
            try
            {
                await _dialer!.DialPeerAsync(peerId, hints, limit.Token).ConfigureAwait(false);
                return null;
            }
            catch (ChatNetworkException e)
            {
                Log.PeerUnreachable(_logger, peerId, e.Message);
                return e.Message;
            }
            catch (OperationCanceledException) when (!_stopping.IsCancellationRequested)
            {
                string reason = $"no connection within {_bound.TotalSeconds:0} s";
                Log.PeerUnreachable(_logger, peerId, reason);
                return reason;
            }
        }
        finally
        {
            lock (_gate)
                _dialing.Remove(peerId);
        }
    }

    /// <summary>Gives up the dials still running.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
            return;
        lock (_gate)
            _stopping.Cancel();
        await Task.WhenAll(_background.Snapshot()).WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }
}
