using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Net.Threading;
using Microsoft.Extensions.Logging;

namespace Echo.Net.Mdns;

/// <summary>
/// Dials the peers mDNS finds, without storms: ourselves and connected peers are skipped, at most
/// <see cref="MdnsOptions.MaxConcurrentDials"/> dials run at once (one per peer), and a peer whose
/// dial failed waits out an exponential <see cref="DialBackoff"/>. One attempt tries the peer's
/// addresses in turn until one answers, each within <see cref="MdnsOptions.DialTimeout"/>, so an
/// address a spoofer advertised for an honest peer id costs one failed handshake, not the peer.
/// At most <see cref="MdnsOptions.MaxDialsPerSecond"/> dials start per second, so a flood of
/// made-up peers costs a bounded number of failed dials.
/// </summary>
public sealed class MdnsAutoDialer : IAsyncDisposable
{
    private readonly PeerId _self;
    private readonly Func<PeerId, bool> _isConnected;
    private readonly Func<Multiaddr, CancellationToken, Task> _dial;
    private readonly MdnsOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly DialBackoff _backoff;
    private readonly HashSet<PeerId> _dialing = [];
    private readonly BackgroundTasks _running = new();
    private readonly SemaphoreSlim _slots;
    private readonly CancellationTokenSource _stopping = new();
    private readonly TokenBucket _dialTokens;
    private long _refused;
    private DateTimeOffset _lastReport = DateTimeOffset.MinValue;
    private int _disposed;

    /// <param name="self">Our id: never dialed.</param>
    /// <param name="isConnected">Whether we already have a connection to a peer.</param>
    /// <param name="dial">Dials one address (ending in /p2p/); throws when it fails.</param>
    public MdnsAutoDialer(PeerId self, Func<PeerId, bool> isConnected, Func<Multiaddr, CancellationToken, Task> dial, MdnsOptions options,
        ILogger logger, TimeProvider? time = null)
    {
        options.Validate();
        _self = self;
        _isConnected = isConnected;
        _dial = dial;
        _options = options;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _backoff = new DialBackoff(options.DialBackoff, options.MaxDialBackoff);
        _slots = new SemaphoreSlim(options.MaxConcurrentDials, options.MaxConcurrentDials);
        _dialTokens = new TokenBucket(options.MaxDialsPerSecond, options.MaxDialsPerSecond);
    }

    /// <summary>Dials being attempted or waiting for a slot.</summary>
    public int Pending
    {
        get
        {
            lock (_gate)
                return _dialing.Count;
        }
    }

    /// <summary>
    /// A peer was found at <paramref name="addresses"/>: dial it unless it is us, connected, being
    /// dialed or backing off. Returns whether a dial was started. Never blocks.
    /// </summary>
    public bool Offer(PeerId peer, IReadOnlyList<Multiaddr> addresses)
    {
        if (Volatile.Read(ref _disposed) != 0 || peer.Equals(_self) || addresses.Count == 0 || _isConnected(peer))
            return false;
        long refused = 0;
        lock (_gate)
        {
            DateTimeOffset now = _time.GetUtcNow();
            if (_dialing.Contains(peer) || _dialing.Count >= _options.MaxPeers || !_backoff.CanDial(peer, now))
                return false;
            if (_dialTokens.TryTake(now))
            {
                _dialing.Add(peer);
                _running.Track(DialAsync(peer, [.. addresses], _stopping.Token));
                return true;
            }
            _refused++;
            if (now - _lastReport >= MdnsDiscovery.ReportSpacing)
                (refused, _refused, _lastReport) = (_refused, 0, now);
        }
        if (refused > 0)
            Log.DialsLimited(_logger, _options.MaxDialsPerSecond, refused);
        return false;
    }

    private async Task DialAsync(PeerId peer, Multiaddr[] addresses, CancellationToken cancellationToken)
    {
        await Task.Yield();
        bool slot = false;
        try
        {
            await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
            slot = true;
            string reason = "no address answered";
            foreach (Multiaddr address in addresses)
            {
                if (_isConnected(peer))
                {
                    Succeeded(peer);
                    return;
                }
                using CancellationTokenSource deadline = new(_options.DialTimeout, _time);
                using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
                try
                {
                    await _dial(address, timeout.Token).ConfigureAwait(false);
                    Log.Dialed(_logger, peer, address.ToString());
                    Succeeded(peer);
                    return;
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    reason = $"{address}: no answer within {_options.DialTimeout.TotalSeconds} s";
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    reason = $"{address}: {e.Message}";
                }
            }
            lock (_gate)
            {
                TimeSpan wait = _backoff.Failed(peer, _time.GetUtcNow());
                Log.DialFailed(_logger, peer, _backoff.Failures(peer), wait.TotalSeconds, reason);
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            if (slot)
                _slots.Release();
            lock (_gate)
                _dialing.Remove(peer);
        }
    }

    private void Succeeded(PeerId peer)
    {
        lock (_gate)
            _backoff.Succeeded(peer);
    }

    /// <summary>Cancels the dials in progress and waits (bounded) for them to end.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _running.DrainAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
    }
}
