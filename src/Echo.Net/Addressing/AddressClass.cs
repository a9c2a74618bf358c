namespace Echo.Net.Addressing;

/// <summary>
/// Who can reach an address: anyone on the internet, only a private network, only this machine, only
/// the link, or only through a relay. See <see cref="AddressClassifier"/>.
/// </summary>
public enum AddressClass
{
    /// <summary>Globally routable (or a DNS name, or inside a range configured as public).</summary>
    Public,

    /// <summary>A private network: RFC 1918, carrier-grade NAT (100.64/10), IPv6 unique local (fc00::/7) and other non-routable ranges.</summary>
    Private,

    /// <summary>This machine only: 127/8 and ::1.</summary>
    Loopback,

    /// <summary>One link only: 169.254/16 and fe80::/10.</summary>
    LinkLocal,

    /// <summary>Through a circuit relay (<c>/p2p-circuit</c>): reachable, but the connection is limited.</summary>
    Circuit,
}
