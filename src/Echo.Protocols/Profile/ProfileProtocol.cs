using Echo.Core.Ports;
using Echo.Net;
using Echo.Net.Framing;
using Echo.Net.Host;
using Echo.Net.Identity;
using Microsoft.Extensions.Logging;

namespace Echo.Protocols.Profile;

/// <summary>
/// <c>/echo/profile/1.0.0</c>: each side pushes its signed profile (<see cref="ProfileRecord"/>) on
/// a stream of its own, once identify shows the peer speaks the protocol and again when the nick
/// changes (nick or away message). The receiver keeps the newest record per connected peer: an older or equal
/// <see cref="ProfileRecord.Seq"/> never replaces a newer one.
/// </summary>
internal sealed class ProfileProtocol(Libp2pHost host, TimeProvider time, Action<NetworkEvent> post, ILogger logger)
{
    public const string ProtocolId = "/echo/profile/1.0.0";

    /// <summary>How long one push may take: the record out, the other side's close back.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <summary>How many records a peer may push per minute; more are dropped unread (a nick changes far less often).</summary>
    public const int MaxRecordsPerMinute = 20;

    private readonly Lock _gate = new();
    private readonly Dictionary<PeerId, ulong> _latest = [];
    private readonly Dictionary<PeerId, (DateTimeOffset Start, int Count)> _rate = [];
    private readonly Dictionary<PeerId, ulong> _delivered = [];   // our last record each peer closed its stream on
    private byte[]? _own;
    private string? _ownNick;
    private string? _ownAway;
    private ulong _ownSeq;

    /// <summary>Our current signed record, or null before a nick was set.</summary>
    public byte[]? Own
    {
        get { lock (_gate) return _own; }
    }

    /// <summary>Signs a record for <paramref name="nick"/> with a larger sequence number; false when the nick is unchanged.</summary>
    public bool SetNick(string nick)
    {
        lock (_gate)
        {
            if (_ownNick == nick)
                return false;
            _ownNick = nick;
            SealLocked();
            return true;
        }
    }

    /// <summary>
    /// Sets our away message (null: not away); false when unchanged. The record is signed again once
    /// a nick is set (a record always carries the nick).
    /// </summary>
    public bool SetAway(string? away)
    {
        lock (_gate)
        {
            if (_ownAway == away)
                return false;
            _ownAway = away;
            if (_ownNick is null)
                return false;
            SealLocked();
            return true;
        }
    }

    private void SealLocked()
    {
        _ownSeq = Math.Max((ulong)Math.Max(0, time.GetUtcNow().ToUnixTimeMilliseconds()), _ownSeq + 1);
        _own = host.SealRecord(ProfileRecord.Domain, ProfileRecord.PayloadType, ProfileRecord.Payload(host.PeerId, _ownSeq, _ownNick!, _ownAway));
    }

    /// <summary>Serves one inbound stream: reads the peer's record, checks it and reports a newer nick.</summary>
    public async Task HandleAsync(P2PStream stream, CancellationToken cancellationToken)
    {
        using CancellationTokenSource limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(Timeout);
        if (!WithinRate(stream.RemotePeer))
        {
            Log.ProfileRejected(logger, stream.RemotePeer, $"more than {MaxRecordsPerMinute} profiles a minute");
            stream.Reset();
            return;
        }
        ProfileRecord record;
        try
        {
            byte[]? bytes = await stream.Input.ReadLengthPrefixedAsync(ProfileRecord.MaxBytes, ProtocolId, limit.Token).ConfigureAwait(false);
            if (bytes is null)
                return;
            record = ProfileRecord.Open(bytes, stream.RemotePeer);
        }
        catch (Exception e) when (e is ProtocolViolationException or IOException
                                  || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            // A bad record, a peer that left, or one too slow: it costs this stream only.
            Log.ProfileRejected(logger, stream.RemotePeer, e is OperationCanceledException ? "no record in time" : e.Message);
            stream.Reset();
            return;
        }
        try
        {
            await stream.CompleteOutputAsync().ConfigureAwait(false);
        }
        catch (IOException)
        {
            // The sender is gone already; its record is still good.
        }
        if (Accept(record))
        {
            post(new PeerNickAnnounced(record.Peer.ToString(), record.Nick));
            post(new PeerAwayAnnounced(record.Peer.ToString(), record.Away));
        }
        else
            Log.ProfileStale(logger, record.Peer, record.Seq);
    }

    /// <summary>
    /// True when <paramref name="record"/> is newer than the last one of its peer (which it then
    /// replaces); a connected peer's records are compared, see <see cref="OnDisconnected"/>.
    /// </summary>
    internal bool Accept(ProfileRecord record)
    {
        lock (_gate)
        {
            if (_latest.TryGetValue(record.Peer, out ulong seq) && seq >= record.Seq)
                return false;
            _latest[record.Peer] = record.Seq;
            return true;
        }
    }

    /// <summary>Counts one record of <paramref name="peer"/>; false once it sent <see cref="MaxRecordsPerMinute"/> this minute.</summary>
    internal bool WithinRate(PeerId peer)
    {
        DateTimeOffset now = time.GetUtcNow();
        lock (_gate)
        {
            (DateTimeOffset start, int count) = _rate.GetValueOrDefault(peer);
            if (now - start >= TimeSpan.FromMinutes(1) || now < start)
                (start, count) = (now, 0);
            _rate[peer] = (start, count + 1);
            return count < MaxRecordsPerMinute;
        }
    }

    private ulong? Delivered(PeerId peer)
    {
        lock (_gate)
            return _delivered.TryGetValue(peer, out ulong seq) ? seq : null;
    }

    /// <summary>Forgets a peer's last sequence number when its last connection closes (its clock may go back across restarts).</summary>
    public void OnDisconnected(PeerId peer)
    {
        lock (_gate)
        {
            _latest.Remove(peer);
            _rate.Remove(peer);
        }
    }

    /// <summary>Peers whose delivered record is remembered; past it, the memory starts anew.</summary>
    private const int MaxDeliveredPeers = 4096;

    /// <summary>
    /// Pushes our record to <paramref name="peer"/>; failures are logged (the peer left, or it does not read).
    /// On a connection with a small data limit (<see cref="Connection.HasSmallDataLimit"/>) a record the
    /// peer already took (on an earlier circuit) is not sent again, unless it carries an away message
    /// (the peer forgets that when the connection goes): its nick book still has the nick.
    /// </summary>
    public async Task SendAsync(PeerId peer, CancellationToken cancellationToken)
    {
        byte[]? own;
        ulong seq;
        bool away;
        lock (_gate)
            (own, seq, away) = (_own, _ownSeq, _ownAway is not null);
        if (own is null)
            return;
        if (!away && host.GetConnection(peer) is { HasSmallDataLimit: true } && Delivered(peer) == seq)
        {
            Log.ProfileKnown(logger, peer, seq);
            return;
        }
        using CancellationTokenSource limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(Timeout);
        P2PStream? stream = null;
        try
        {
            stream = await ProtocolStreams.OpenAsync(host, peer, ProtocolId, "the peer is not connected", limit.Token, cancellationToken)
                .ConfigureAwait(false);
            await stream.Output.WriteLengthPrefixedAsync(own, limit.Token).ConfigureAwait(false);
            await stream.CompleteOutputAsync().ConfigureAwait(false);
            // The other side closes once it has the record; nothing else may come back.
            await stream.Input.ReadLengthPrefixedAsync(0, ProtocolId, limit.Token).ConfigureAwait(false);
            lock (_gate)
            {
                if (_delivered.Count >= MaxDeliveredPeers && !_delivered.ContainsKey(peer))
                    _delivered.Clear();
                _delivered[peer] = seq;
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // A background push: whatever went wrong (the peer left, did not read, broke the stream) is only logged.
            stream?.Reset();
            Log.ProfileNotSent(logger, peer, e is OperationCanceledException ? "no answer in time" : e.Message);
        }
        catch (OperationCanceledException)
        {
            stream?.Reset();   // we are stopping
        }
    }
}
