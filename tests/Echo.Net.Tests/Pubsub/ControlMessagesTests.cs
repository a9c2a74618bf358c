using Echo.Net.Pubsub;
using Google.Protobuf;
using Wire = Echo.Net.Pubsub.Pb;

namespace Echo.Net.Tests.Pubsub;

/// <summary>The control-section records and their protobuf mapping.</summary>
public class ControlMessagesTests
{
    [Fact]
    public void FromPb_KeepsEveryEntry_MissingFieldsBecomeNullOrEmpty()
    {
        Wire.ControlMessage pb = new()
        {
            Ihave = { new Wire.ControlIHave { TopicID = "t", MessageIDs = { ByteString.CopyFrom(1, 2), ByteString.Empty } }, new Wire.ControlIHave() },
            Iwant = { new Wire.ControlIWant { MessageIDs = { ByteString.CopyFrom(3) } } },
            Graft = { new Wire.ControlGraft { TopicID = "t" }, new Wire.ControlGraft() },
            Prune = { new Wire.ControlPrune { TopicID = "t", Backoff = 60, Peers = { new Wire.PeerInfo { PeerID = ByteString.CopyFrom(9) }, new Wire.PeerInfo() } } },
            Idontwant = { new Wire.ControlIDontWant { MessageIDs = { ByteString.CopyFrom(4) } } },
        };
        ControlMessage control = ControlMessage.FromPb(pb);
        Assert.Equal(2, control.IHaves.Count);
        Assert.Equal("t", control.IHaves[0].Topic);
        Assert.Equal([[1, 2], []], control.IHaves[0].Ids.Select(id => id.ToArray()));  // ids as sent, judged later
        Assert.Null(control.IHaves[1].Topic);
        Assert.Equal([3], control.IWants.Single().Ids.Single().ToArray());
        Assert.Equal(["t", null], control.Grafts.Select(g => g.Topic));
        Prune prune = control.Prunes.Single();
        Assert.Equal(("t", (ulong?)60), (prune.Topic, prune.BackoffSeconds));
        Assert.Equal([[9], []], prune.Px.Select(p => p.ToArray()));
        Assert.Equal([4], control.IDontWants.Single().Ids.Single().ToArray());
        Assert.Null(ControlMessage.FromPb(new Wire.ControlMessage { Prune = { new Wire.ControlPrune { TopicID = "t" } } }).Prunes[0].BackoffSeconds);
    }

    [Fact]
    public void ToRpc_EncodesWhatTheRecordsHold_BackoffOnlyWhenSet()
    {
        ControlMessage control = new()
        {
            IHaves = [new IHave("t", [new byte[] { 1 }])],
            IWants = [new IWant([new byte[] { 2 }])],
            Grafts = [new Graft("g")],
            Prunes = [new Prune("p", 60, []), new Prune("q", null, [])],
            IDontWants = [new IDontWant([new byte[] { 3 }])],
        };
        Wire.ControlMessage pb = Wire.RPC.Parser.ParseFrom(control.ToRpc()).Control;
        Assert.Equal("t", pb.Ihave.Single().TopicID);
        Assert.Equal(ByteString.CopyFrom(1), pb.Ihave.Single().MessageIDs.Single());
        Assert.Equal(ByteString.CopyFrom(2), pb.Iwant.Single().MessageIDs.Single());
        Assert.Equal("g", pb.Graft.Single().TopicID);
        Assert.True(pb.Prune[0].HasBackoff);
        Assert.Equal(60UL, pb.Prune[0].Backoff);
        Assert.False(pb.Prune[1].HasBackoff);                       // meshsub 1.0 peers get no backoff field
        Assert.Empty(pb.Prune[1].Peers);
        Assert.Equal(ByteString.CopyFrom(3), pb.Idontwant.Single().MessageIDs.Single());
        Assert.Equal(control.ToRpc(), new Wire.RPC { Control = ControlMessage.FromPb(pb).ToPb() }.ToByteArray());
    }
}
