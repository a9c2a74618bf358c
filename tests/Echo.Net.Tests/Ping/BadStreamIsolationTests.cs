using System.Security.Cryptography;
using Echo.Net.Framing;
using Echo.Net.Host;
using Echo.Net.Identify;
using Echo.Net.Ping;
using Echo.Net.Tests.Identify;
using static Echo.Net.Tests.Identify.BadPeerKit;

namespace Echo.Net.Tests.Ping;

/// <summary>
/// Rule B-1 of docs/LIMITS.md: one malformed or oversized frame from a peer costs only the stream it came
/// on. The connection it came on and the process stay up, the host logs it, and another peer's
/// traffic on the same host keeps flowing.
/// </summary>
public class BadStreamIsolationTests
{
    private const int Chunk = 64 * 1024;

    private static readonly (string Protocol, string Abuse)[] Abuses =
    [
        (IdentifyProtocol.PushProtocolId, "1 MiB announced"),
        (IdentifyProtocol.PushProtocolId, "10-byte length"),
        (IdentifyProtocol.PushProtocolId, "malformed protobuf"),
        (PingProtocol.ProtocolId, "20 garbage bytes"),
        (PingProtocol.ProtocolId, "40 garbage bytes"),
    ];

    private static byte[] Abuse(string abuse) => abuse switch
    {
        "1 MiB announced" => [.. Varint.Encode(1 << 20), .. RandomNumberGenerator.GetBytes(1000)],
        "10-byte length" => Convert.FromHexString("ffffffffffffffffff01"),
        "malformed protobuf" => Frame([0x0a, 0xff, 0xff, 0x03]),
        "20 garbage bytes" => RandomNumberGenerator.GetBytes(20),        // less than one ping, then the end
        "40 garbage bytes" => RandomNumberGenerator.GetBytes(40),        // one ping and a cut one
        _ => throw new ArgumentOutOfRangeException(nameof(abuse)),
    };

    [Fact(Timeout = 60_000)]
    public async Task BadFrames_CostOnlyTheirStreams_WhileAnotherPeersEchoKeepsFlowing()
    {
        RecordingLoggerFactory log = new();
        // Three bad pushes in a row: each must meet the parser, not the once-a-second push limit.
        await using Libp2pHost server = await StartAsync(log, options: new HostOptions { MinIdentifyPushInterval = TimeSpan.Zero });
        await using Libp2pHost bad = await StartAsync();
        await using Libp2pHost other = await StartAsync();
        Task<RecordingLoggerFactory.Entry> identified = log.WaitForAsync(e => e.EventId == Identified && e.IsAbout(bad.PeerId));
        await Bounded(bad.DialAsync(TestHosts.AddressOf(server), Ct));
        await identified;
        Connection badConnection = server.GetConnection(bad.PeerId)!;
        await Bounded(other.DialAsync(TestHosts.AddressOf(server), Ct));

        // The other peer's echo stream stays open across every abuse, one chunk between each.
        P2PStream echo = await Bounded(other.OpenStreamAsync(server.PeerId, TestHosts.EchoProtocol, Ct));
        int rejected = 0;
        await EchoChunkAsync(echo);
        foreach ((string protocol, string abuse) in Abuses)
        {
            Assert.False(await SendRawAsync(bad, server.PeerId, protocol, Abuse(abuse)), $"{abuse} on {protocol}: stream reset");
            RecordingLoggerFactory.Entry logged = await log.WaitForAsync(e => e.EventId == InboundStreamRejected && e.IsAbout(bad.PeerId), ++rejected);
            Assert.Equal(protocol, logged["Protocol"]);
            await EchoChunkAsync(echo);
        }
        await Bounded(echo.CompleteOutputAsync());
        Assert.True(await EndsCleanlyAsync(echo));

        // The bad peer's connection is the same one, and still works.
        Assert.False(badConnection.IsClosed);
        Assert.Same(badConnection, server.GetConnection(bad.PeerId));
        Assert.True(await Bounded(bad.PingAsync(server.PeerId, Ct)) >= TimeSpan.Zero);
        await EchoRoundTripAsync(bad, server.PeerId, 100_000);
        await EchoRoundTripAsync(other, server.PeerId, 1 << 20);
        Assert.Equal(2, server.Connections.Count);
        Assert.Equal(rejected, log.Count(e => e.EventId == InboundStreamRejected));
        Assert.Empty(log.Where(e => e.EventId == 1507));          // nothing but protocol errors
    }

    private static async Task EchoChunkAsync(P2PStream stream)
    {
        byte[] data = RandomNumberGenerator.GetBytes(Chunk);
        await Bounded(stream.Output.WriteAsync(data, Ct).AsTask());
        byte[]? echoed = await Bounded(stream.Input.ReadExactlyAsync(Chunk, TestHosts.EchoProtocol, Ct).AsTask());
        Assert.Equal(data, echoed);
    }
}
