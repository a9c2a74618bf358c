using Echo.Net.Multiformats;

namespace Echo.Net.Host;

/// <summary>A dial did not produce a connection; <see cref="Exception.InnerException"/> holds the cause.</summary>
public sealed class DialFailedException(Multiaddr address, string reason, Exception? inner = null)
    : Exception($"dial {address} failed: {reason}", inner)
{
    public Multiaddr Address { get; } = address;
    public string Reason { get; } = reason;
}

/// <summary>A listen address could not be bound (port in use, address not ours, ...).</summary>
public sealed class ListenFailedException(Multiaddr address, string reason, Exception? inner = null)
    : Exception($"cannot listen on {address}: {reason}", inner)
{
    public Multiaddr Address { get; } = address;
    public string Reason { get; } = reason;
}

/// <summary>No connection to the peer exists and none could be made.</summary>
public sealed class PeerNotConnectedException(Echo.Net.Identity.PeerId peer)
    : Exception($"not connected to {peer}")
{
    public Echo.Net.Identity.PeerId Peer { get; } = peer;
}

/// <summary>
/// A dial without a <c>/p2p/</c> id reached a peer we already have a connection to; the handshake
/// was abandoned before it completed, so the existing connection stays the only one.
/// </summary>
internal sealed class AlreadyConnectedException(Echo.Net.Identity.PeerId peer)
    : Exception($"already connected to {peer}")
{
    public Echo.Net.Identity.PeerId Peer { get; } = peer;
}

/// <summary>A dial reached this very node (one of our own addresses); the handshake was abandoned.</summary>
internal sealed class SelfDialException()
    : Exception("that address is our own");
