using Echo.Net.Host;

namespace Echo.Protocols.EchoGo;

/// <summary>One echo-go stream with a peer, read until the peer closes it; lines are written by its <see cref="EchoGoPeer"/>.</summary>
internal sealed class EchoGoStream(P2PStream stream, bool outbound, long usableAt)
{
    public P2PStream Stream { get; } = stream;

    /// <summary>True when we opened it.</summary>
    public bool Outbound { get; } = outbound;

    /// <summary>
    /// When lines may first be written to it (<see cref="TimeProvider.GetTimestamp"/>): a stream we
    /// opened waits a moment, since a peer that opened its own at the same time closes ours unread.
    /// </summary>
    public long UsableAt { get; } = usableAt;
}
