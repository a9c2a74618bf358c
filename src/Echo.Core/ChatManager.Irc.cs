using System.Globalization;
using System.Text;
using Echo.Core.Chat;
using Echo.Core.Events;
using Echo.Core.Peers;
using Echo.Core.Ports;

namespace Echo.Core;

/// <summary>
/// IRC habits: <c>/me</c> actions (<see cref="ChatAction"/>), <c>/away</c> carried in our signed
/// profile (<see cref="IProfileNetwork.AnnounceAway"/>) and peers' away messages on their
/// <see cref="PeerInfo.AwayReason"/>, <c>/whois</c> (<see cref="WhoisEvent"/>) and <c>/clear</c>
/// (<see cref="ClearEvent"/>).
/// </summary>
public sealed partial class ChatManager
{
    /// <summary>First connections remembered for /whois at most (beyond, peers show the peer book's time only).</summary>
    private const int MaxFirstConnected = 10_000;

    private readonly Dictionary<string, string> _peerAway = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _firstConnected = new(StringComparer.Ordinal);
    private string? _awayReason;

    /// <summary>Our away message (/away), or null when we are not away.</summary>
    public string? AwayReason
    {
        get { lock (_gate) return _awayReason; }
    }

    /// <summary>Sends <paramref name="action"/> to the current room as a /me action; it is shown once the network took it.</summary>
    public async Task SendActionAsync(string action, CancellationToken cancellationToken)
    {
        string nick = Nick;
        if (ChatAction.Check(nick, action) is { } error)
        {
            Publish(new ErrorEvent($"not sent: {error}"));
            return;
        }
        if (CurrentRoom is not { } room)
        {
            Publish(new ErrorEvent("not sent: you are in no room; /join <room> first"));
            return;
        }
        try
        {
            ChatMessage sent = await _network.PublishActionAsync(room, nick, action, cancellationToken).ConfigureAwait(false);
            await AcceptAsync([sent], cancellationToken).ConfigureAwait(false);
        }
        catch (ChatNetworkException e)
        {
            Publish(new ErrorEvent($"not sent: {e.Message}"));
        }
    }

    /// <summary>
    /// /me in a direct conversation: a direct message flagged as an action, never to a room; it
    /// travels as the readable <c>* nick action</c> with the flag, as in rooms.
    /// </summary>
    private Task SendDirectActionAsync(string peerId, string action, CancellationToken cancellationToken)
    {
        string nick = Nick;
        if (ChatAction.Check(nick, action) is { } error)
        {
            Publish(new ErrorEvent($"not sent: {error}"));
            return Task.CompletedTask;
        }
        return _direct?.SendAsync(peerId, action, action: true, cancellationToken) ?? Run(() => Publish(new ErrorEvent(Direct.DirectMessaging.NoDirectNetwork)));
    }

    /// <summary>Sets our away message (null or empty: back), tells peers through our profile, and says so.</summary>
    public void SetAway(string? reason)
    {
        reason = string.IsNullOrWhiteSpace(reason) ? null : reason.Trim();
        if (reason is not null && AwayMessage.Check(reason) is { } error)
        {
            Publish(new ErrorEvent($"away unchanged: {error}"));
            return;
        }
        lock (_gate)
        {
            if (_awayReason == reason)
            {
                PublishLocked(new NoticeEvent(reason is null ? "you are not marked away" : $"you are already away: {SafeText.ForDisplay(reason)}"));
                return;
            }
            _awayReason = reason;
            PublishLocked(new NoticeEvent(reason is null
                ? "you are back; peers no longer see you as away"
                : $"you are away: {SafeText.ForDisplay(reason)} (peers see it; /back clears it)"));
        }
        (_network as IProfileNetwork)?.AnnounceAway(reason);
    }

    /// <summary>Publishes what is known of <paramref name="target"/> (a nick, nick@tag or peer id) as a <see cref="WhoisEvent"/>.</summary>
    public void Whois(string target)
    {
        if (ResolvePeer(target) is not { } peerId)
            return;
        PeerDetails? details = (_network as IPeerDetails)?.Describe(peerId);
        WhoisEvent answer;
        lock (_gate)
        {
            PeerInfo? peer = _directory.Find(peerId);
            string? nick = _directory.NickOf(peerId) ?? peer?.Nick;
            string? away = peer?.AwayReason ?? _peerAway.GetValueOrDefault(peerId);
            bool thisRun = details?.FirstSeen is null;
            DateTimeOffset? firstSeen = details?.FirstSeen
                ?? (_firstConnected.TryGetValue(peerId, out DateTimeOffset first) ? first : null);
            IReadOnlyList<PeerConnectionDetails> connections = details?.Connections ?? [];
            if (connections.Count == 0 && peer is { IsAway: false } connected)
                connections = [new PeerConnectionDetails(connected.Address, connected.Source == PeerSource.Inbound, connected.Relayed, connected.ConnectedSince)];
            IReadOnlyList<string> addresses = details?.Addresses ?? (peer is null || peer.Address.Length == 0 ? [] : [peer.Address]);
            TimeSpan? rtt = peer?.RoundTrip;
            answer = new WhoisEvent(peerId, nick, away, connections, addresses, rtt, firstSeen, thisRun && firstSeen is not null,
                WhoisText(peerId, nick, away, connections, addresses, rtt, firstSeen, thisRun, peer));
        }
        Publish(answer);
    }

    /// <summary>/clear that reached the chat: faces that pass the line on clear their view of the current room.</summary>
    private void ClearScreen() => Publish(new ClearEvent(CurrentRoom));

    /// <summary>Peers' away messages and first connections, from the network's events.</summary>
    private void ApplyIrc(NetworkEvent networkEvent)
    {
        switch (networkEvent)
        {
            case PeerJoined { Peer: var joined }:
                lock (_gate)
                {
                    if (_firstConnected.Count < MaxFirstConnected)
                        _firstConnected.TryAdd(joined.PeerId, joined.ConnectedSince);
                    // Its profile may have been read before the connection was reported.
                    if (_peerAway.TryGetValue(joined.PeerId, out string? reason))
                        _directory.AwayChanged(joined.PeerId, reason);
                }
                break;
            case PeerLeft left:
                lock (_gate)
                    _peerAway.Remove(left.PeerId);
                break;
            case PeerAwayAnnounced announced:
                ApplyAway(announced.PeerId, announced.Reason);
                break;
        }
    }

    /// <summary>A connected peer's away message: kept on its <see cref="PeerInfo"/>, and a change is told to the user.</summary>
    private void ApplyAway(string peerId, string? reason)
    {
        if (reason is not null && AwayMessage.Check(reason) is not null)
            reason = null;   // the network checks it; what does not fit is not shown
        lock (_gate)
        {
            string? before = _peerAway.GetValueOrDefault(peerId);
            if (before == reason)
                return;
            if (reason is null)
                _peerAway.Remove(peerId);
            else
                _peerAway[peerId] = reason;
            _directory.AwayChanged(peerId, reason);
            string who = SafeText.ForDisplay(_directory.LabelOf(peerId) ?? PeerInfo.ShortPeerId(peerId));
            PublishLocked(new NoticeEvent(reason is null ? $"{who} is back" : $"{who} is away: {SafeText.ForDisplay(reason)}"));
        }
    }

    private static string WhoisText(string peerId, string? nick, string? away, IReadOnlyList<PeerConnectionDetails> connections,
        IReadOnlyList<string> addresses, TimeSpan? rtt, DateTimeOffset? firstSeen, bool thisRun, PeerInfo? peer)
    {
        CultureInfo inv = CultureInfo.InvariantCulture;
        StringBuilder text = new();
        text.Append(inv, $"{SafeText.ForDisplay(nick ?? "?")} is {peerId}");
        if (away is not null)
            text.Append(inv, $"\n  away: {SafeText.ForDisplay(away)}");
        if (connections.Count == 0)
        {
            text.Append(peer?.IsAway == true
                ? string.Create(inv, $"\n  not connected (last seen {peer.ConnectedSince.ToLocalTime():yyyy-MM-dd HH:mm:ss}, {peer.ReconnectText(DateTimeOffset.UtcNow)})")
                : "\n  not connected");
        }
        foreach (PeerConnectionDetails c in connections)
        {
            text.Append(inv, $"\n  connected {(c.Inbound ? "inbound (it dialed us)" : "outbound (we dialed it)")}, {(c.Relayed ? "relayed" : "direct")}");
            text.Append(inv, $", since {c.OpenedAt.ToLocalTime():yyyy-MM-dd HH:mm:ss}: {SafeText.ForDisplay(c.Address)}");
        }
        if (peer is { Relayed: true, RelayReason: { } relayReason })
            text.Append(inv, $"\n  relayed because: {SafeText.ForDisplay(relayReason)}");
        if (peer?.IsEchoGo == true)
            text.Append("\n  speaks echo-go's line protocol only");
        if (rtt is { } roundTrip)
            text.Append(inv, $"\n  round trip: {roundTrip.TotalMilliseconds:0.0} ms");
        if (addresses.Count > 0)
            text.Append("\n  addresses: ").AppendJoin(", ", addresses.Select(SafeText.ForDisplay));
        text.Append(firstSeen is { } first
            ? string.Create(inv, $"\n  first seen: {first.ToLocalTime():yyyy-MM-dd HH:mm:ss}{(thisRun ? " (first connection since this node started)" : "")}")
            : "\n  first seen: never connected");
        return text.ToString();
    }
}
