namespace Echo.Core.Ports;

/// <summary>
/// A reservation this node holds on a relay, as the relay granted it (status OK): the relay's address
/// with <c>/p2p/</c>, the limits of each circuit it will bring us (null: none stated) and when the
/// reservation expires unless refreshed.
/// </summary>
public sealed record RelayReservationInfo(string Relay, TimeSpan? LimitDuration, long? LimitBytes, DateTimeOffset Expires);
