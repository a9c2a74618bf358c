using Echo.Core.Ports;
using Echo.Net.Host;
using Echo.Net.Identify;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Net.Pubsub;
using Echo.Protocols.Direct;
using Echo.Protocols.Rooms;
using Microsoft.Extensions.Logging;

namespace Echo.Protocols;

/// <summary>
/// The chat over limited (relayed) connections. Between Echo peers, room messages (gossipsub),
/// direct messages, nicks and history sync run on them (go and js run no gossipsub over a relay,
/// so with them pubsub waits for a direct connection); history pages keep within what remains of
/// the relay's data limit; file transfers wait for a direct connection. When the relay cuts a
/// circuit we dialed (its limit reached), it is dialed again at the same relayed address, and the
/// outbox and history sync cover the gap. Peers are reported with how they are reached (relay or
/// direct), again when a direct connection replaces the relayed one; the relays in use and why a
/// peer stays relayed come from the relay client and DCUtR.
/// </summary>
public sealed partial class Libp2pChatNetwork : IRelayStatus
{
    private readonly Dictionary<PeerId, Multiaddr> _circuits = [];      // under _gate: relayed addresses to dial again
    private readonly Dictionary<PeerId, bool> _reportedRelayed = [];    // under _gate: how each joined peer was last reported
    private Redialer? _circuitRedialer;
    private IReadOnlyList<string> _relaysInUse = [];

    /// <summary>
    /// Dials a relayed (<c>/p2p-circuit</c>) address again after its circuit was cut; null: the host's
    /// dial (the relay client's transport). Tests put an in-memory circuit here.
    /// </summary>
    internal Func<Multiaddr, CancellationToken, Task>? CircuitDialer { get; set; }

    /// <inheritdoc />
    public IReadOnlyList<string> RelaysInUse => Volatile.Read(ref _relaysInUse);

    /// <summary>
    /// The relay client's reservations changed: <paramref name="relays"/> are the relays we hold one
    /// on (each the relay's address with <c>/p2p/</c>, or its peer id). Reported to the chat as
    /// <see cref="RelaysChanged"/>.
    /// </summary>
    internal void SetRelaysInUse(IReadOnlyList<string> relays, IReadOnlyList<RelayReservationInfo>? reservations = null)
    {
        IReadOnlyList<string> copy = [.. relays];
        IReadOnlyList<string> before = Interlocked.Exchange(ref _relaysInUse, copy);
        if (!before.SequenceEqual(copy, StringComparer.Ordinal))
            Post(new RelaysChanged(copy) { Reservations = [.. reservations ?? []] });
    }

    /// <summary>
    /// Why <paramref name="peer"/> stays relayed (DCUtR gave up, e.g. "hole punch failed after 3
    /// attempts, symmetric NAT suspected"); shown by /peers and /whois until a direct connection appears.
    /// </summary>
    internal void ReportRelayReason(PeerId peer, string reason)
    {
        Log.PeerRelayReason(_logger, peer, reason);
        Post(new PeerRelayReason(peer.ToString(), reason));
    }

    /// <inheritdoc />
    public bool IsRelayedOnly(string peerId) =>
        PeerId.TryParse(peerId, out PeerId? peer) && peer is not null && _host.GetConnection(peer) is { IsLimited: true };

    /// <inheritdoc />
    public IReadOnlyList<string> RelayedOnlyIn(string room) =>
        [.. _router.TopicPeers(RoomTopic.ForRoom(room)).Where(p => _host.GetConnection(p) is { IsLimited: true }).Select(p => p.ToString())];

    /// <summary>An Echo peer (it speaks Echo's direct messages): pubsub may run with it over a limited connection.</summary>
    private static bool IsEchoPeer(IdentifyInfo info) => info.Supports(DirectProtocol.ProtocolId);

    /// <summary>The pubsub settings with limited connections opened to Echo peers, unless the options chose otherwise.</summary>
    private static PubsubOptions WithLimited(PubsubOptions options) =>
        options.RunOnLimited is null ? options with { RunOnLimited = IsEchoPeer } : options;

    /// <summary>Lets the text protocols use limited connections (before the host starts), and readies the circuit re-dials.</summary>
    private void StartLimited()
    {
        foreach (string protocol in PubsubRouter.Protocols)
            _host.AllowOnLimitedConnections(protocol);
        RedialOptions redial = _options.RememberPeers?.Redial ?? new RedialOptions();
        _circuitRedialer = new Redialer(RedialCircuitAsync, peer => _host.GetConnection(peer) is not null, redial,
            _loggers.CreateLogger<Redialer>(), _time);
    }

    private async Task RedialCircuitAsync(PeerId peer, CancellationToken cancellationToken)
    {
        Multiaddr? address;
        lock (_gate)
            _circuits.TryGetValue(peer, out address);
        if (address is null)
        {
            _circuitRedialer?.Stop(peer);
            return;
        }
        Multiaddr target = address.PeerId == peer ? address : address.WithPeerId(peer);
        try
        {
            await (CircuitDialer ?? DialHostAsync)(target, cancellationToken).ConfigureAwait(false);
        }
        catch (DialFailedException e)
        {
            throw new ChatNetworkException(e.Reason, e);
        }
    }

    private Task DialHostAsync(Multiaddr address, CancellationToken cancellationToken) => _host.DialAsync(address, cancellationToken);

    private Task DialNewCircuitAsync(Multiaddr address, CancellationToken cancellationToken) =>
        _host.DialAsync(address, new DialOptions { NewCircuit = true }, cancellationToken);

    /// <summary>A circuit that ended sooner than this after it opened is dialed again after <see cref="ShortCircuitPause"/>.</summary>
    internal static readonly TimeSpan ShortCircuit = TimeSpan.FromSeconds(5);

    /// <summary>The pause before dialing again a circuit that lived less than <see cref="ShortCircuit"/>.</summary>
    internal static readonly TimeSpan ShortCircuitPause = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long before a circuit's duration limit we dial a new one beside it (at most a quarter of
    /// the limit): the relay's 2 minutes end with the new circuit already carrying the chat.
    /// </summary>
    internal static readonly TimeSpan CircuitRenewLead = TimeSpan.FromSeconds(10);

    /// <summary>
    /// A circuit we dialed with a known duration limit: shortly before the relay would cut it, a new
    /// circuit through the same address is dialed and replaces it (the host keeps the newer circuit;
    /// streams on the old one may finish until it closes), so the chat has no gap. A failed renewal
    /// leaves the cut to the re-dial after it.
    /// </summary>
    private async Task RenewCircuitAsync(Connection connection)
    {
        if (connection.Limit?.Duration is not { } duration || connection.Direction != ConnectionDirection.Outbound)
            return;
        TimeSpan lead = TimeSpan.FromTicks(Math.Min(CircuitRenewLead.Ticks, duration.Ticks / 4));
        TimeSpan wait = connection.TimeRemaining is { } left && left > lead ? left - lead : TimeSpan.Zero;
        using CancellationTokenSource ending = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token, connection.Closed);
        try
        {
            await Task.Delay(wait, _time, ending.Token).ConfigureAwait(false);
            PeerId peer = connection.RemotePeer;
            lock (_gate)
            {
                if (!_joined.Contains(peer) || _host.GetConnection(peer) != connection)
                    return;   // gone, or replaced (by a direct connection or another circuit)
            }
            Log.CircuitRenew(_logger, peer, connection.RemoteAddress.ToString(), connection.TimeRemaining ?? TimeSpan.Zero);
            await (CircuitDialer ?? DialNewCircuitAsync)(connection.RemoteAddress, ending.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ending.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is DialFailedException or ChatNetworkException or IOException or TimeoutException
                                  or InvalidOperationException)
        {
            Log.CircuitRenewFailed(_logger, connection.RemotePeer, e.Message);
        }
    }

    /// <summary>True while the circuit to <paramref name="peer"/> is being dialed again (the peer book then leaves it alone).</summary>
    private bool RedialingCircuit(PeerId peer)
    {
        lock (_gate)
            return _circuits.ContainsKey(peer);
    }

    /// <summary>
    /// A connection became the one used for a joined peer: when it is reached otherwise than reported
    /// (a direct connection replaced the relayed one, after a hole punch or a direct dial), the chat
    /// is told.
    /// </summary>
    private void OnPathMaybeChanged(Connection connection)
    {
        PeerId peer = connection.RemotePeer;
        if (connection.IsLimited && connection.Direction == ConnectionDirection.Outbound && connection.Limit?.Duration is not null)
            Track(RenewCircuitAsync(connection));
        lock (_gate)
        {
            _circuits.Remove(peer);
            if (!_joined.Contains(peer) || !_reportedRelayed.TryGetValue(peer, out bool relayed) || relayed == connection.IsLimited)
                return;
            _reportedRelayed[peer] = connection.IsLimited;
            Post(new PeerPathChanged(peer.ToString(), connection.RemoteAddress.ToString(), connection.IsLimited));
        }
        _circuitRedialer?.Stop(peer);
        Log.PeerPathChanged(_logger, peer, connection.IsLimited ? "through a relay" : "directly", connection.RemoteAddress.ToString());
    }

    /// <summary>Records how a joining peer is reached (called under _gate).</summary>
    private void JoinedVia(Connection connection)
    {
        _reportedRelayed[connection.RemotePeer] = connection.IsLimited;
        _circuits.Remove(connection.RemotePeer);
    }

    /// <summary>
    /// A peer's connection ended. A relayed one we dialed (the relay cut the circuit at its limit, or
    /// the relay went) is dialed again at once through the same address, with back-off after that.
    /// </summary>
    private void OnLimitedDisconnected(Connection connection)
    {
        PeerId peer = connection.RemotePeer;
        lock (_gate)
        {
            _reportedRelayed.Remove(peer);
            if (!connection.IsLimited || connection.Direction != ConnectionDirection.Outbound || _stopping.IsCancellationRequested)
                return;
            _circuits[peer] = connection.RemoteAddress;
        }
        Log.CircuitRedial(_logger, peer, connection.RemoteAddress.ToString());
        // A circuit cut right after it opened (a relay with a tiny limit) is dialed again after a pause, not in a tight loop.
        bool shortLived = _time.GetUtcNow() - connection.OpenedAt < ShortCircuit;
        _circuitRedialer?.Start(peer, shortLived ? ShortCircuitPause : TimeSpan.Zero);
    }

    private async ValueTask DisposeLimitedAsync()
    {
        if (_circuitRedialer is not null)
            await _circuitRedialer.DisposeAsync().ConfigureAwait(false);
    }
}
