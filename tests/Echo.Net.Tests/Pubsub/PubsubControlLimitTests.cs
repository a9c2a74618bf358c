using Echo.Net.Pubsub;
using Google.Protobuf;
using Microsoft.Extensions.Time.Testing;
using Wire = Echo.Net.Pubsub.Pb;

namespace Echo.Net.Tests.Pubsub;

/// <summary>
/// L-pubsub-idontwant and the message id length of L-pubsub-message: what a router takes from one
/// peer's IDONTWANT, on a fake clock so that heartbeats happen only when the test says.
/// </summary>
public sealed class PubsubControlLimitTests
{
    private static Wire.RPC IDontWant(IEnumerable<byte[]> ids)
    {
        Wire.ControlIDontWant idontwant = new();
        idontwant.MessageIDs.AddRange(ids.Select(ByteString.CopyFrom));
        return BadPeer.Control(new Wire.ControlMessage { Idontwant = { idontwant } });
    }

    private static byte[] Id(int i, int length = 8)
    {
        byte[] id = new byte[length];
        BitConverter.TryWriteBytes(id, i);
        return id;
    }

    [Fact(Timeout = 30_000)]
    public async Task IDontWant_512IdsFromAPeerAreHonouredPerHeartbeat_MoreAreIgnoredUntilTheNext()
    {
        PubsubOptions options = new();
        Assert.Equal(512, options.MaxIDontWantIds);
        FakeTimeProvider time = new();
        await using PubsubNode r = await PubsubNode.StartAsync(options, time);
        await using BadPeer peer = await BadPeer.ConnectAsync(r, PubsubRouter.MeshsubV12);

        await peer.SendAsync(IDontWant(Enumerable.Range(0, 513).Select(i => Id(i))));
        await PubsubWait.ProcessedAsync(r.Router, peer.Id, 1);
        Assert.Equal(512, r.Router.GetPeer(peer.Id)!.DontSendCount);

        // After a heartbeat the peer may send more.
        time.Advance(options.HeartbeatInterval);
        await peer.SendAsync(IDontWant([Id(1000)]));
        await PubsubWait.ProcessedAsync(r.Router, peer.Id, 2);
        Assert.Equal(513, r.Router.GetPeer(peer.Id)!.DontSendCount);
    }

    [Fact(Timeout = 30_000)]
    public async Task IDontWant_AnIdOf256BytesIsHonoured_OneByteMoreIsIgnored()
    {
        Assert.Equal(256, MessageId.MaxLength);
        await using PubsubNode r = await PubsubNode.StartAsync(new PubsubOptions(), new FakeTimeProvider());
        await using BadPeer peer = await BadPeer.ConnectAsync(r, PubsubRouter.MeshsubV12);

        await peer.SendAsync(IDontWant([Id(1, MessageId.MaxLength)]));
        await PubsubWait.ProcessedAsync(r.Router, peer.Id, 1);
        Assert.Equal(1, r.Router.GetPeer(peer.Id)!.DontSendCount);

        await peer.SendAsync(IDontWant([Id(2, MessageId.MaxLength + 1)]));
        await PubsubWait.ProcessedAsync(r.Router, peer.Id, 2);
        Assert.Equal(1, r.Router.GetPeer(peer.Id)!.DontSendCount);
    }
}
