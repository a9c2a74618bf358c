using Echo.Net.Host;
using Echo.Net.Identify;
using Echo.Net.Tests.Host;
using Google.Protobuf;
using Microsoft.Extensions.Time.Testing;
using static Echo.Net.Tests.Identify.BadPeerKit;
using IdentifyMessage = Echo.Net.Identify.Pb.Identify;

namespace Echo.Net.Tests.Identify;

/// <summary>A peer's identify pushes are processed at most once a second (docs/LIMITS.md, L-identify-push).</summary>
public class IdentifyPushRateTests
{
    private static byte[] Protocols(string protocol) => Frame(new IdentifyMessage { Protocols = { protocol } }.ToByteArray());

    /// <summary>True when the push was taken; false when its stream was reset, even before the protocol was agreed.</summary>
    private static async Task<bool> PushAsync(Libp2pHost from, Libp2pHost to, string protocol)
    {
        try
        {
            return await SendRawAsync(from, to.PeerId, IdentifyProtocol.PushProtocolId, Protocols(protocol));
        }
        catch (Echo.Net.Yamux.StreamResetException)
        {
            return false;
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task APushSoonerThanASecondAfterTheLast_IsResetUnread_ThePeerAskedOnceWhenDue_OneASecondIsProcessed()
    {
        FakeTimeProvider time = new(DateTimeOffset.UtcNow);
        RecordingLoggerFactory log = new();
        await using Libp2pHost honest = await StartAsync(log, time);
        await using Libp2pHost pusher = await StartAsync();
        await BadPeerKit.ConnectAsync(honest, log, pusher);

        Assert.True(await SendRawAsync(pusher, honest.PeerId, IdentifyProtocol.PushProtocolId, Protocols("/first/1")));
        await log.WaitForAsync(e => e.EventId == PushReceived && e.IsAbout(pusher.PeerId));
        for (int i = 0; i < 20; i++)
            Assert.False(await PushAsync(pusher, honest, $"/flood/{i}"));
        Assert.Equal(["/first/1"], honest.PeerStore.Get(pusher.PeerId)!.Protocols);
        Assert.Equal(20, honest.Identify.PushesRefused);

        // Once the interval has passed the peer is asked, once, for what is current: the flood's
        // pushes are not replayed, its real answer replaces the first push's list.
        time.Advance(IdentifyProtocol.MinPushInterval);
        await TestHosts.WaitUntilAsync(() => honest.PeerStore.Get(pusher.PeerId)!.Protocols.Contains(IdentifyProtocol.ProtocolId),
            "the pusher asked for what is current", TimeSpan.FromSeconds(10));
        Assert.DoesNotContain(honest.PeerStore.Get(pusher.PeerId)!.Protocols, p => p.StartsWith("/flood/", StringComparison.Ordinal));

        time.Advance(IdentifyProtocol.MinPushInterval);
        Assert.True(await SendRawAsync(pusher, honest.PeerId, IdentifyProtocol.PushProtocolId, Protocols("/later/1")));
        await TestHosts.WaitUntilAsync(() => honest.PeerStore.Get(pusher.PeerId)!.Protocols.Contains("/later/1"), "the later push is stored",
            TimeSpan.FromSeconds(10));
        Assert.Equal(20, honest.Identify.PushesRefused);
    }
}
