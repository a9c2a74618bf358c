namespace Echo.Net.Host;

/// <summary>Who dialed: we (<see cref="Outbound"/>) or the remote (<see cref="Inbound"/>).</summary>
public enum ConnectionDirection
{
    Inbound,
    Outbound,
}
