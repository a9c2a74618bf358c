using Echo.Net.Kad;

namespace Echo.Cli;

/// <summary>The DHT's mode: --dht-server and --dht-client.</summary>
internal sealed partial record ChatSettings
{
    /// <summary>The error for both DHT modes at once.</summary>
    internal const string DhtModesExclusive = "--dht-server and --dht-client exclude each other";

    /// <summary>The error for a DHT mode without the public network.</summary>
    internal const string DhtNeedsPublicNetwork = "--dht-server and --dht-client need --bootstrap or --public (the DHT is part of the public network)";

    /// <summary>The DHT's mode when forced (--dht-server, --dht-client); null follows AutoNAT (server only when public).</summary>
    public KadMode? DhtMode { get; init; }

    /// <summary>Applies --dht-server and --dht-client; throws <see cref="ArgumentException"/> when both are given or the public network is off.</summary>
    public ChatSettings WithDht(bool server, bool client)
    {
        if (server && client)
            throw new ArgumentException(DhtModesExclusive);
        if ((server || client) && !PublicNetworkEnabled)
            throw new ArgumentException(DhtNeedsPublicNetwork);
        return this with { DhtMode = server ? KadMode.Server : client ? KadMode.Client : null };
    }
}
