using Echo.Net.Identity;
using Echo.Net.Threading;
using Microsoft.Extensions.Logging;

namespace Echo.Net.Host;

/// <summary>Settings of a <see cref="Redialer"/>, each with the reason for its default.</summary>
public sealed record RedialOptions
{
    /// <summary>The wait before the first redial after a connection dropped: long enough for a restart's socket to close.</summary>
    public TimeSpan InitialDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait between two dials of one peer: a peer away for days costs a dial every 5 minutes.</summary>
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Each wait is scaled by a random factor in [1 - Jitter, 1 + Jitter], so peers that lost each
    /// other at the same moment do not dial each other in lockstep.
    /// </summary>
    public double Jitter { get; init; } = 0.2;

    /// <summary>Redials running at once; the others wait for a slot (a node remembering many peers does not open a storm of sockets).</summary>
    public int MaxConcurrentDials { get; init; } = 4;

    /// <summary>Throws when a setting is out of range.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(InitialDelay, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxDelay, InitialDelay);
        ArgumentOutOfRangeException.ThrowIfNegative(Jitter);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(Jitter, 1.0);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxConcurrentDials, 1);
    }

    /// <summary>
    /// The wait after <paramref name="failures"/> failed dials in a row (0 = the first redial):
    /// <c>InitialDelay · 2^failures</c>, jittered by <paramref name="random"/> (uniform in [0, 1)),
    /// never more than <see cref="MaxDelay"/>.
    /// </summary>
    public TimeSpan Delay(int failures, double random)
    {
        double factor = Math.Pow(2, Math.Clamp(failures, 0, 40));
        double ticks = Math.Min(InitialDelay.Ticks * factor, MaxDelay.Ticks);
        ticks *= 1 - Jitter + 2 * Jitter * Math.Clamp(random, 0, 1);
        return TimeSpan.FromTicks((long)Math.Min(ticks, MaxDelay.Ticks));
    }
}

/// <summary>
/// Keeps dialing peers we want to stay connected to: after a peer is started it is dialed after
/// a wait that grows exponentially with each failure (with jitter, up to
/// <see cref="RedialOptions.MaxDelay"/>), at most <see cref="RedialOptions.MaxConcurrentDials"/>
/// dials at once, until it is connected or stopped. Failures are logged at Debug: a remembered peer
/// that is away is ordinary.
/// </summary>
public sealed class Redialer : IAsyncDisposable
{
    private readonly Func<PeerId, CancellationToken, Task> _dial;
    private readonly Func<PeerId, bool> _isConnected;
    private readonly RedialOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Random _random;
    private readonly Lock _gate = new();
    private readonly Dictionary<PeerId, PeerState> _peers = [];
    private readonly BackgroundTasks _running = new();
    private readonly SemaphoreSlim _slots;
    private readonly CancellationTokenSource _stopping = new();
    private bool _disposed;

    private sealed class PeerState(CancellationTokenSource cancel)
    {
        public CancellationTokenSource Cancel { get; } = cancel;
        public DateTimeOffset? NextDial { get; set; }
        public int Failures { get; set; }
    }

    /// <param name="dial">Dials the peer (at whichever of its addresses answers); throws when it cannot.</param>
    /// <param name="isConnected">Whether the peer is connected now (then there is nothing to do).</param>
    public Redialer(Func<PeerId, CancellationToken, Task> dial, Func<PeerId, bool> isConnected, RedialOptions options, ILogger logger,
        TimeProvider? time = null, Random? random = null)
    {
        options.Validate();
        _dial = dial;
        _isConnected = isConnected;
        _options = options;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _random = random ?? Random.Shared;
        _slots = new SemaphoreSlim(options.MaxConcurrentDials, options.MaxConcurrentDials);
    }

    /// <summary>Raised (outside any lock) each time a peer's next dial is set: the peer and when it is due.</summary>
    public event Action<PeerId, DateTimeOffset>? Scheduled;

    /// <summary>Peers being redialed.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
                return _peers.Count;
        }
    }

    /// <summary>When <paramref name="peer"/> is dialed next; null when it is not being redialed or a dial is under way.</summary>
    public DateTimeOffset? NextDial(PeerId peer)
    {
        lock (_gate)
            return _peers.TryGetValue(peer, out PeerState? state) ? state.NextDial : null;
    }

    /// <summary>
    /// Starts redialing <paramref name="peer"/> unless it already is: the first dial after
    /// <paramref name="firstDelay"/> (the back-off's first wait when null). Returns whether it started.
    /// </summary>
    public bool Start(PeerId peer, TimeSpan? firstDelay = null)
    {
        lock (_gate)
        {
            if (_disposed || _peers.ContainsKey(peer))
                return false;
            PeerState state = new(CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token));
            _peers[peer] = state;
            _running.Track(RunAsync(peer, state, firstDelay ?? _options.Delay(0, _random.NextDouble())));
            return true;
        }
    }

    /// <summary>Stops redialing <paramref name="peer"/> (it connected, or is forgotten); a dial under way is abandoned.</summary>
    public void Stop(PeerId peer)
    {
        PeerState? state;
        lock (_gate)
            _peers.Remove(peer, out state);
        try
        {
            state?.Cancel.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // its loop had just ended
        }
    }

    private async Task RunAsync(PeerId peer, PeerState state, TimeSpan delay)
    {
        await Task.Yield();
        CancellationToken cancellationToken = state.Cancel.Token;
        try
        {
            while (!_isConnected(peer))
            {
                // The timer starts before the due time is published, so whoever reads NextDial and
                // then moves the clock finds the wait already running.
                DateTimeOffset due = _time.GetUtcNow() + delay;
                Task wait = Task.Delay(delay, _time, cancellationToken);
                lock (_gate)
                    state.NextDial = due;
                RaiseScheduled(peer, due);
                await wait.ConfigureAwait(false);
                if (_isConnected(peer))
                    break;
                await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    lock (_gate)
                        state.NextDial = null;
                    await _dial(peer, cancellationToken).ConfigureAwait(false);
                    Log.Redialed(_logger, peer);
                    break;
                }
                catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    int failures;
                    lock (_gate)
                    {
                        failures = ++state.Failures;
                        delay = _options.Delay(failures, _random.NextDouble());
                    }
                    Log.RedialFailed(_logger, peer, failures, delay.TotalSeconds, e.Message);
                }
                finally
                {
                    _slots.Release();
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            lock (_gate)
            {
                if (_peers.TryGetValue(peer, out PeerState? current) && current == state)
                    _peers.Remove(peer);
            }
            state.Cancel.Dispose();
        }
    }

    private void RaiseScheduled(PeerId peer, DateTimeOffset due)
    {
        try
        {
            Scheduled?.Invoke(peer, due);
        }
        catch (Exception e)
        {
            Log.EventHandlerFailed(_logger, e);
        }
    }

    /// <summary>Stops every redial and waits (bounded) for them to end.</summary>
    public async ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            if (_disposed)
                return;
            _disposed = true;   // no redial starts after this
        }
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _running.DrainAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        _stopping.Dispose();
    }
}
