using Echo.Net.Framing;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Google.Protobuf;
using Microsoft.Extensions.Logging;

namespace Echo.Net.Identify;

/// <summary>
/// identify (https://github.com/libp2p/specs/blob/master/identify/README.md): on every new
/// connection we ask the peer who it is (<c>/ipfs/id/1.0.0</c>); it writes one length-prefixed
/// <c>Identify</c> message and closes. We answer the same question, and push an update
/// (<c>/ipfs/id/push/1.0.0</c>) to every peer when the protocols we serve or the addresses we
/// advertise change, at most once per <see cref="HostOptions.MinIdentifyPushInterval"/> (peers refuse
/// pushes sooner than that). The observed address each answer carries goes to the host's
/// observed-address manager.
/// </summary>
/// <remarks>
/// The answer must carry the public key of the connection's peer (js drops identify without it)
/// and the exact list of protocols we serve: go and js open their pubsub streams only to peers
/// that list a pubsub protocol here.
/// </remarks>
internal sealed class IdentifyProtocol(Libp2pHost host, ILogger<IdentifyProtocol> logger)
{
    public const string ProtocolId = "/ipfs/id/1.0.0";
    public const string PushProtocolId = "/ipfs/id/push/1.0.0";

    /// <summary>
    /// A peer's identify pushes are processed at most this often: a push sooner after the last
    /// one is reset unread (a peer announces a change far less often; a flood of pushes must not
    /// start work each time), and once the interval has passed we ask the peer (identify) for what
    /// is current, so the last change it pushed is not lost.
    /// </summary>
    public static readonly TimeSpan MinPushInterval = TimeSpan.FromSeconds(1);

    /// <summary>Peers whose last processed push is remembered; past it, entries older than the interval go.</summary>
    private const int MaxPushPeers = 4096;

    private readonly Lock _pushGate = new();
    private readonly Dictionary<PeerId, long> _lastPush = [];
    private readonly HashSet<PeerId> _refreshPending = [];
    private long _pushesRefused;
    private readonly Lock _sendGate = new();
    private bool _pushScheduled;
    private long _lastPushSent = -1;

    /// <summary>Identify pushes reset unread because they came within <see cref="MinPushInterval"/> of the last one.</summary>
    public long PushesRefused => Interlocked.Read(ref _pushesRefused);

    /// <summary>Serves <c>/ipfs/id/1.0.0</c>: write our identify message, then half-close.</summary>
    public async Task HandleIdentifyAsync(P2PStream stream, CancellationToken cancellationToken)
    {
        byte[] message = BuildMessage(stream.Connection.RemoteAddress.WithoutPeerId(), stream.Connection.HasSmallDataLimit);
        await stream.Output.WriteLengthPrefixedAsync(message, cancellationToken).ConfigureAwait(false);
        await stream.CompleteOutputAsync().ConfigureAwait(false);
    }

    /// <summary>Serves <c>/ipfs/id/push/1.0.0</c>: merge what the peer pushes into what we know of it.</summary>
    public async Task HandlePushAsync(P2PStream stream, CancellationToken cancellationToken)
    {
        if (!TryStartPush(stream.RemotePeer, out TimeSpan wait))
        {
            Interlocked.Increment(ref _pushesRefused);
            Log.PushTooSoon(logger, stream.RemotePeer);
            stream.Reset();
            RefreshLater(stream.Connection, wait);
            return;
        }
        IdentifyInfo? previous = host.PeerStore.Get(stream.RemotePeer);
        IdentifyInfo info = await ReadAsync(stream, previous, cancellationToken).ConfigureAwait(false);
        await stream.CompleteOutputAsync().ConfigureAwait(false);
        Store(stream.Connection, info);
        if (info.ObservedAddress is { } observed)
            host.OnObservedAddress(stream.Connection, observed);
        Log.PushReceived(logger, stream.RemotePeer, info.Protocols.Count);
        host.OnIdentified(stream.Connection, info);
    }

    /// <summary>
    /// True (and the time noted) when <paramref name="peer"/>'s last push was processed at least
    /// <see cref="HostOptions.MinIdentifyPushInterval"/> ago; else false, with how long is left.
    /// </summary>
    private bool TryStartPush(PeerId peer, out TimeSpan wait)
    {
        TimeProvider time = host.Time;
        TimeSpan interval = host.Options.MinIdentifyPushInterval;
        long now = time.GetTimestamp();
        wait = TimeSpan.Zero;
        lock (_pushGate)
        {
            if (_lastPush.TryGetValue(peer, out long last) && time.GetElapsedTime(last, now) < interval)
            {
                wait = interval - time.GetElapsedTime(last, now);
                return false;
            }
            if (_lastPush.Count >= MaxPushPeers)
            {
                foreach (PeerId old in _lastPush.Where(p => time.GetElapsedTime(p.Value, now) >= interval).Select(p => p.Key).ToList())
                    _lastPush.Remove(old);
            }
            _lastPush[peer] = now;
            return true;
        }
    }

    /// <summary>
    /// After a refused push: asks the peer once, when <paramref name="wait"/> has passed, for what is
    /// current (one pending request per peer; the pushes meanwhile add nothing).
    /// </summary>
    private void RefreshLater(Connection connection, TimeSpan wait)
    {
        lock (_pushGate)
        {
            if (_refreshPending.Count >= MaxPushPeers || !_refreshPending.Add(connection.RemotePeer))
                return;
        }
        host.TrackBackground(RefreshAsync(connection, wait));
    }

    private async Task RefreshAsync(Connection connection, TimeSpan wait)
    {
        try
        {
            await Task.Delay(wait, host.Time, connection.Closed).ConfigureAwait(false);
            lock (_pushGate)
                _lastPush[connection.RemotePeer] = host.Time.GetTimestamp();
            await IdentifyPeerAsync(connection, connection.Closed).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // the connection ended first
        }
        finally
        {
            lock (_pushGate)
                _refreshPending.Remove(connection.RemotePeer);
        }
    }

    /// <summary>
    /// How long what a peer said on a circuit with a small data limit is used for its next such circuit
    /// instead of asking again (a relay that cuts circuits every few KiB is dialed again and again; each
    /// identify would cost a tenth of the limit each way).
    /// </summary>
    public static readonly TimeSpan SmallCircuitReuse = TimeSpan.FromMinutes(10);

    /// <summary>Peers whose answer on a small circuit is kept for <see cref="SmallCircuitReuse"/>; past it, the memory starts anew.</summary>
    private const int MaxReusedPeers = 256;

    private readonly Lock _reuseGate = new();
    private readonly Dictionary<PeerId, (IdentifyInfo Info, long At)> _smallCircuitAnswers = [];

    /// <summary>What <paramref name="peer"/> said on a circuit with a small data limit within <see cref="SmallCircuitReuse"/>, with its age.</summary>
    private (IdentifyInfo Info, TimeSpan Age)? RecentSmallCircuitAnswer(PeerId peer)
    {
        lock (_reuseGate)
        {
            if (!_smallCircuitAnswers.TryGetValue(peer, out (IdentifyInfo Info, long At) answer))
                return null;
            TimeSpan age = host.Time.GetElapsedTime(answer.At);
            if (age < SmallCircuitReuse)
                return (answer.Info, age);
            _smallCircuitAnswers.Remove(peer);
            return null;
        }
    }

    private void KeepSmallCircuitAnswer(IdentifyInfo info)
    {
        lock (_reuseGate)
        {
            if (_smallCircuitAnswers.Count >= MaxReusedPeers && !_smallCircuitAnswers.ContainsKey(info.Peer))
                _smallCircuitAnswers.Clear();
            _smallCircuitAnswers[info.Peer] = (info with { ObservedAddress = null }, host.Time.GetTimestamp());
        }
    }

    /// <summary>
    /// Asks the peer of <paramref name="connection"/> to identify itself; failures are logged, never thrown.
    /// On a circuit with a small data limit (<see cref="Connection.HasSmallDataLimit"/>), what the peer
    /// said on such a circuit within <see cref="SmallCircuitReuse"/> is used instead.
    /// </summary>
    public async Task IdentifyPeerAsync(Connection connection, CancellationToken cancellationToken)
    {
        if (connection.HasSmallDataLimit && RecentSmallCircuitAnswer(connection.RemotePeer) is { } recent)
        {
            Log.IdentifyReused(logger, connection.RemotePeer, recent.Age.TotalSeconds);
            Store(connection, recent.Info);
            host.OnIdentified(connection, recent.Info);
            return;
        }
        try
        {
            using CancellationTokenSource timer = new(IdentifyLimits.Timeout, host.Time);
            using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, connection.Closed, timer.Token);
            P2PStream stream = await connection.OpenStreamAsync(ProtocolId, timeout.Token).ConfigureAwait(false);
            IdentifyInfo info;
            try
            {
                await stream.CompleteOutputAsync().ConfigureAwait(false);
                info = await ReadAsync(stream, previous: null, timeout.Token).ConfigureAwait(false);
            }
            catch
            {
                stream.Reset();
                throw;
            }
            Store(connection, info);
            if (connection.HasSmallDataLimit)
                KeepSmallCircuitAnswer(info);
            if (info.ObservedAddress is { } observed)
                host.OnObservedAddress(connection, observed);
            Log.Identified(logger, connection.RemotePeer, info.AgentVersion ?? "", info.Protocols.Count);
            host.OnIdentified(connection, info);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Log.IdentifyFailed(logger, connection.RemotePeer, e.Message);
        }
    }

    /// <summary>
    /// Schedules an identify push to every connected peer: at once when the last one was sent at least
    /// <see cref="HostOptions.MinIdentifyPushInterval"/> ago, else when that interval has passed. Changes
    /// meanwhile join the scheduled push, which carries what is current when it is sent.
    /// </summary>
    public void RequestPush(CancellationToken stopping)
    {
        lock (_sendGate)
        {
            if (_pushScheduled)
                return;
            _pushScheduled = true;
        }
        host.TrackBackground(PushWhenDueAsync(stopping));
    }

    private async Task PushWhenDueAsync(CancellationToken stopping)
    {
        TimeProvider time = host.Time;
        TimeSpan wait;
        lock (_sendGate)
            wait = _lastPushSent < 0 ? TimeSpan.Zero : host.Options.MinIdentifyPushInterval - time.GetElapsedTime(_lastPushSent);
        try
        {
            if (wait > TimeSpan.Zero)
                await Task.Delay(wait, time, stopping).ConfigureAwait(false);
            else
                await Task.Yield();
        }
        catch (OperationCanceledException)
        {
            return;
        }
        finally
        {
            lock (_sendGate)
            {
                _pushScheduled = false;
                _lastPushSent = time.GetTimestamp();
            }
        }
        await PushToAllAsync(stopping).ConfigureAwait(false);
    }

    /// <summary>Tells every connected peer our current protocols and addresses (identify push).</summary>
    public async Task PushToAllAsync(CancellationToken cancellationToken)
    {
        await Task.WhenAll(host.Connections.Select(c => PushAsync(c, cancellationToken))).ConfigureAwait(false);
    }

    private async Task PushAsync(Connection connection, CancellationToken cancellationToken)
    {
        // A circuit with a small data limit is not told: its bytes are for the chat. The peer learns the
        // change on a direct connection, or on a small circuit once its last answer is too old to reuse.
        if (connection.HasSmallDataLimit)
            return;
        try
        {
            using CancellationTokenSource timer = new(IdentifyLimits.Timeout, host.Time);
            using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, connection.Closed, timer.Token);
            P2PStream stream = await connection.OpenStreamAsync(PushProtocolId, timeout.Token).ConfigureAwait(false);
            await stream.Output.WriteLengthPrefixedAsync(BuildMessage(connection.RemoteAddress.WithoutPeerId()), timeout.Token)
                .ConfigureAwait(false);
            await stream.CompleteOutputAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Log.PushFailed(logger, connection.RemotePeer, e.Message);
        }
    }

    // The connection may have ended while the answer was read: its end already trimmed the entry
    // (OnDisconnected), so trim again rather than keep a disconnected peer's full lists.
    private void Store(Connection connection, IdentifyInfo info)
    {
        host.PeerStore.Put(info);
        if (host.GetConnection(connection.RemotePeer) is null)
            host.PeerStore.OnDisconnected(connection.RemotePeer);
    }

    /// <param name="observed">The peer's address as we see it.</param>
    /// <param name="usableOnly">
    /// For a connection with a small data limit: only the protocols a limited connection may carry
    /// (the peer could open no other stream on it, and each name costs bytes of the limit); a direct
    /// connection's identify lists them all again.
    /// </param>
    internal byte[] BuildMessage(Multiaddr observed, bool usableOnly = false)
    {
        Pb.Identify message = new()
        {
            ProtocolVersion = host.Options.ProtocolVersion,
            AgentVersion = host.Options.AgentVersion,
            PublicKey = ByteString.CopyFrom(host.IdentityKey.PublicKey.ToProtobuf()),
            ObservedAddr = ByteString.CopyFrom(observed.ToBytes()),
        };
        message.Protocols.AddRange(usableOnly ? host.Protocols.Where(host.IsAllowedOnLimited) : host.Protocols);
        foreach (Multiaddr address in host.AdvertisedAddresses)
        {
            ByteString bytes = ByteString.CopyFrom(address.WithoutPeerId().ToBytes());
            if (message.CalculateSize() + bytes.Length + 4 > IdentifyLimits.MaxOwnMessageLength)
                break;
            message.ListenAddrs.Add(bytes);
        }
        return message.ToByteArray();
    }

    /// <summary>
    /// Reads identify messages until the peer closes, merging them (absent fields keep the values of
    /// <paramref name="previous"/>, as push requires). The public key, when sent, must be the peer's.
    /// </summary>
    internal static async Task<IdentifyInfo> ReadAsync(P2PStream stream, IdentifyInfo? previous, CancellationToken cancellationToken)
    {
        Pb.Identify merged = new();
        int count = 0;
        while (await stream.Input.ReadLengthPrefixedAsync(IdentifyLimits.MaxMessageLength, ProtocolId, cancellationToken)
                   .ConfigureAwait(false) is { } bytes)
        {
            if (++count > IdentifyLimits.MaxMessages)
                throw new ProtocolViolationException(ProtocolId, $"more than {IdentifyLimits.MaxMessages} identify messages");
            MergeMessage(merged, bytes);
        }
        if (count == 0 && previous is null)
            throw new ProtocolViolationException(ProtocolId, "the peer closed without identifying itself");
        return ToInfo(stream.RemotePeer, merged, previous);
    }

    /// <summary>
    /// Merges one identify message (at most <see cref="IdentifyLimits.MaxMessageLength"/> bytes) into
    /// <paramref name="merged"/>: scalars of the later message win, repeated fields are appended.
    /// </summary>
    /// <remarks>
    /// Repeated fields are cut at twice what is stored (room for duplicates and unparseable entries,
    /// which <see cref="ToInfo"/> drops) rather than rejected: like go, a peer announcing more
    /// addresses or protocols than we keep is truncated, not refused, so we still learn what it serves.
    /// Ten messages of 8 KiB can carry 40,000 two-byte entries; the cut keeps the merged message,
    /// and the work <see cref="ToInfo"/> does on it, bounded whatever the number of messages.
    /// </remarks>
    internal static void MergeMessage(Pb.Identify merged, ReadOnlySpan<byte> message)
    {
        if (message.Length > IdentifyLimits.MaxMessageLength)
            throw new OversizedMessageException(ProtocolId, (ulong)message.Length, IdentifyLimits.MaxMessageLength);
        try
        {
            merged.MergeFrom(message);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new ProtocolViolationException(ProtocolId, "malformed identify message: " + e.Message, e);
        }
        TrimTo(merged.ListenAddrs, IdentifyLimits.MaxStoredAddresses * 2);
        TrimTo(merged.Protocols, IdentifyLimits.MaxStoredProtocols * 2);
    }

    private static void TrimTo<T>(Google.Protobuf.Collections.RepeatedField<T> field, int count)
    {
        while (field.Count > count)
            field.RemoveAt(field.Count - 1);
    }

    internal static IdentifyInfo ToInfo(PeerId peer, Pb.Identify message, IdentifyInfo? previous)
    {
        if (message.HasPublicKey)
        {
            PublicKey key = PublicKey.FromProtobuf(message.PublicKey.Span);
            if (!peer.Matches(key))
                throw new ProtocolViolationException(ProtocolId, $"identify carries the key of {key.ToPeerId()}, not of {peer}");
        }
        IReadOnlyList<Multiaddr> addresses = message.ListenAddrs.Count > 0 || previous is null
            ? [.. message.ListenAddrs.Select(TryDecode).OfType<Multiaddr>().Distinct().Take(IdentifyLimits.MaxStoredAddresses)]
            : previous.ListenAddresses;
        IReadOnlyList<string> protocols = message.Protocols.Count > 0 || previous is null
            ? [.. message.Protocols.Where(p => p.Length is > 0 and <= IdentifyLimits.MaxProtocolIdLength).Distinct(StringComparer.Ordinal)
                .Take(IdentifyLimits.MaxStoredProtocols)]
            : previous.Protocols;
        return new IdentifyInfo(peer,
            message.HasProtocolVersion ? Truncate(message.ProtocolVersion) : previous?.ProtocolVersion,
            message.HasAgentVersion ? Truncate(message.AgentVersion) : previous?.AgentVersion,
            addresses,
            protocols,
            message.HasObservedAddr ? TryDecode(message.ObservedAddr) : previous?.ObservedAddress);
    }

    // An address we cannot parse (unknown protocol) is dropped alone, not the whole message. No
    // exception and no error text per bad entry: a peer may send a thousand of them.
    private static Multiaddr? TryDecode(ByteString bytes) =>
        MultiaddrCodec.TryParseBinary(bytes.Span, out Multiaddr? address) is null ? address : null;

    private static string Truncate(string text) => text.Length <= 256 ? text : text[..256];
}
