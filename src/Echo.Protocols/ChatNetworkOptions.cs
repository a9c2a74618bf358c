using Echo.Core.Chat;
using Echo.Net.Mdns;
using Echo.Net.Pubsub;
using Echo.Protocols.EchoGo;
using Echo.Protocols.History;

namespace Echo.Protocols;

/// <summary>Settings of a <see cref="Libp2pChatNetwork"/>, each with the reason for its default.</summary>
public sealed record ChatNetworkOptions
{
    /// <summary>The room echo-go peers' lines appear in, and whose messages go to them; the chat's default room.</summary>
    public string DefaultRoom { get; init; } = "lobby";

    /// <summary>How often every connected peer is pinged to show its round trip.</summary>
    public TimeSpan PingInterval { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>How long one ping may take before it counts as failed (go's ping gives up after 10 s too).</summary>
    public TimeSpan PingTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Events from peers that may wait for the chat (docs/LIMITS.md, L-event-queue). When the reader
    /// falls this far behind, the writers wait (one source at most a sixteenth of this, up to 256);
    /// nothing is dropped.
    /// </summary>
    public int EventCapacity { get; init; } = 10_000;

    /// <summary>
    /// Open our echo-go stream to a peer that identify says speaks the protocol: at once when we dialed
    /// it, else after <see cref="EchoGoOptions.Grace"/> unless it opened one.
    /// </summary>
    public bool OpenEchoGoOnIdentify { get; init; } = true;

    /// <summary>When echo-go streams are opened and written to.</summary>
    public EchoGoOptions EchoGo { get; init; } = new();

    /// <summary>
    /// Gossipsub settings. The default message id is go's (<c>from || seqno</c>), shared with
    /// go-libp2p's chat example; see docs/PROTOCOLS.md for js nodes.
    /// </summary>
    public PubsubOptions Pubsub { get; init; } = new();

    /// <summary>Find and dial peers on the local network with mDNS; null (the default) leaves it off.</summary>
    public MdnsOptions? Mdns { get; init; }
    /// <summary>
    /// Remember the peers we were connected to and redial them when they are away (at start and when
    /// a connection drops); null (the default) leaves it off.
    /// </summary>
    public Peers.RememberedPeersOptions? RememberPeers { get; init; }

    /// <summary>Join the public libp2p network from bootstrap peers; null (the default) leaves it off.</summary>
    public PublicNetworkOptions? PublicNetwork { get; init; }

    /// <summary>History sync settings; sync runs only when the network is given a message store.</summary>
    public HistorySyncOptions History { get; init; } = new();

    /// <summary>
    /// A served file or history stream that makes no progress this long (the peer reads nothing, asks
    /// nothing) is reset, releasing its file and descriptor (docs/LIMITS.md, L-served-idle).
    /// </summary>
    public TimeSpan ServedStreamIdleTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Files sent to one peer at once; more requests are reset and counted (docs/LIMITS.md, L-served-files).</summary>
    public int MaxServedFilesPerPeer { get; init; } = 2;

    /// <summary>
    /// Files sent to all peers at once; more requests are reset and counted (docs/LIMITS.md,
    /// L-served-files). One host has at most 8 connections (L-conn-per-address), so it holds at most half of these.
    /// </summary>
    public int MaxServedFiles { get; init; } = 32;

    /// <summary>Throws when a setting is out of range.</summary>
    public void Validate()
    {
        if (ChatLimits.CheckRoom(DefaultRoom) is { } roomError)
            throw new ArgumentException(roomError, nameof(DefaultRoom));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(PingInterval, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(PingTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(EventCapacity, 16);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ServedStreamIdleTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxServedFilesPerPeer, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxServedFiles, MaxServedFilesPerPeer);
        Pubsub.Validate();
        Mdns?.Validate();
        RememberPeers?.Validate();
        PublicNetwork?.Validate();
        History.Validate();
        EchoGo.Validate();
    }
}
