using Echo.Net.Identity;

namespace Echo.Net.Host;

/// <summary>
/// A stream was refused because the connection is limited (relayed) and its protocol is not allowed
/// on limited connections (see <see cref="Libp2pHost.SetStreamHandler"/>'s <c>allowOnLimited</c>).
/// </summary>
public sealed class LimitedConnectionException(PeerId peer, string protocol)
    : Exception($"{protocol} is not allowed on the limited (relayed) connection to {peer}; only identify, ping, DCUtR and protocols opted in may use it")
{
    public PeerId Peer { get; } = peer;

    public string Protocol { get; } = protocol;
}
