using System.IO.Pipelines;
using Echo.Net.Multiformats;

namespace Echo.Net.Host;

/// <summary>
/// A byte stream in both directions before security and multiplexing: a TCP socket, a relayed
/// circuit, or an in-memory pipe. <see cref="ConnectionUpgrader"/> turns one into a libp2p connection.
/// </summary>
internal interface IRawConnection : IDuplexPipe, IAsyncDisposable
{
    /// <summary>Our end's address (without <c>/p2p/</c>).</summary>
    Multiaddr LocalAddress { get; }

    /// <summary>The remote end's address (without <c>/p2p/</c>).</summary>
    Multiaddr RemoteAddress { get; }

    /// <summary>Ends the stream at once in both directions, without any goodbye.</summary>
    void Abort();
}
