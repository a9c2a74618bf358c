using Echo.Net.Relay;

namespace Echo.Cli;

/// <summary>Circuit relay: --no-relay-service, --relay-service, --reserve-relays and --no-hole-punch.</summary>
internal sealed partial record ChatSettings
{
    /// <summary>The error for --no-relay-service with --relay-service.</summary>
    internal const string RelayServiceConflict = "--no-relay-service and --relay-service contradict each other";

    /// <summary>
    /// When this node relays for others (with the public network): while AutoNAT says public (the
    /// default), never (--no-relay-service) or from the start (--relay-service).
    /// </summary>
    public RelayServiceMode RelayService { get; init; } = RelayServiceMode.Auto;

    /// <summary>Keep relay reservations whatever AutoNAT says (--reserve-relays); by default only while private.</summary>
    public bool ReserveRelays { get; init; }

    /// <summary>
    /// Never turn a relayed connection into a direct one by DCUtR (--no-hole-punch): relayed peers stay
    /// relayed, e.g. to keep a relay's limits in force or where hole punching is unwanted.
    /// </summary>
    public bool NoHolePunch { get; init; }

    /// <summary>Applies --no-relay-service, --relay-service and --reserve-relays; throws <see cref="ArgumentException"/> when they contradict.</summary>
    public ChatSettings WithRelay(bool noService, bool service, bool reserve)
    {
        if (noService && service)
            throw new ArgumentException(RelayServiceConflict);
        RelayServiceMode mode = noService ? RelayServiceMode.Off : service ? RelayServiceMode.On : RelayServiceMode.Auto;
        return this with { RelayService = mode, ReserveRelays = reserve };
    }

    /// <summary>Applies --no-hole-punch (<paramref name="holePunch"/> false).</summary>
    public ChatSettings WithHolePunch(bool holePunch) => this with { NoHolePunch = !holePunch };
}
