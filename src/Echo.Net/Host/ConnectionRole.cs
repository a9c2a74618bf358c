namespace Echo.Net.Host;

/// <summary>
/// Our part in a connection's upgrade: the <see cref="Initiator"/> proposes in multistream-select,
/// starts Noise XX and is the yamux client (odd stream ids). Usually the dialer, but not always: on a
/// hole-punched TCP simultaneous open both ends dialed, and DCUtR decides; on a relayed circuit the
/// roles follow who asked for the circuit. Recorded apart from <see cref="ConnectionDirection"/>.
/// </summary>
public enum ConnectionRole
{
    Initiator,
    Responder,
}
