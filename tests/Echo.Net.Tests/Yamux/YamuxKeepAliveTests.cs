using Echo.Net.Yamux;

namespace Echo.Net.Tests.Yamux;

/// <summary>RTT measured by the keep-alive (the interval and timeout are covered in YamuxBadPeerTests).</summary>
public class YamuxKeepAliveTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task FirstPing_AnsweredAfterDelay_SetsRtt()
    {
        await using RawPeer peer = RawPeer.Start();
        (YamuxHeader ping, _) = await peer.ReadUntilAsync(h => h.Type == YamuxFrameType.Ping, Ct);
        Assert.Equal(TimeSpan.Zero, peer.Session.Rtt);
        peer.Time.Advance(TimeSpan.FromMilliseconds(40));
        await peer.SendAsync(YamuxFrameType.Ping, YamuxFlags.Ack, 0, ping.Length, null, Ct);
        await peer.SyncAsync(Ct);
        Assert.Equal(TimeSpan.FromMilliseconds(40), peer.Session.Rtt);
    }
}
