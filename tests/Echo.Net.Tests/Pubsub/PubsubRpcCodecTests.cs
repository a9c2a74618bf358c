using System.IO.Pipelines;
using CsCheck;
using Echo.Net.Framing;
using Echo.Net.Pubsub;
using Google.Protobuf;
using Wire = Echo.Net.Pubsub.Pb;

namespace Echo.Net.Tests.Pubsub;

public class PubsubRpcCodecTests
{
    private const int MaxSubs = 100;
    private const int MaxControl = 16 * 1024;

    private static DecodedRpc Decode(byte[] bytes) => PubsubRpcCodec.Decode(bytes, MaxSubs, MaxControl);

    [Fact]
    public void Decode_HandWrittenSubscription_ReadsTopic()
    {
        // RPC { subscriptions: [ SubOpts { subscribe: true, topicid: "chat" } ] }
        DecodedRpc rpc = Decode(Convert.FromHexString("0a08" + "0801" + "1204" + "63686174"));
        Wire.RPC.Types.SubOpts sub = Assert.Single(rpc.Subscriptions);
        Assert.True(sub.Subscribe);
        Assert.Equal("chat", sub.Topicid);
        Assert.Empty(rpc.Messages);
        Assert.Null(rpc.Control);
    }

    [Fact]
    public void Decode_EmptyFrame_IsAnEmptyRpc()
    {
        DecodedRpc rpc = Decode([]);
        Assert.Empty(rpc.Subscriptions);
        Assert.Empty(rpc.Messages);
        Assert.Null(rpc.Control);
    }

    [Fact]
    public void Decode_FullRpc_RoundTripsEveryField()
    {
        Wire.RPC original = new()
        {
            Subscriptions = { new Wire.RPC.Types.SubOpts { Subscribe = true, Topicid = "a" }, new Wire.RPC.Types.SubOpts { Subscribe = false, Topicid = "b" } },
            Publish =
            {
                new Wire.Message
                {
                    From = ByteString.CopyFrom(1, 2, 3), Data = ByteString.CopyFromUtf8("hi"), Seqno = ByteString.CopyFrom(new byte[8]),
                    Topic = "a", Signature = ByteString.CopyFrom(9, 9), Key = ByteString.CopyFrom(7),
                },
            },
            Control = new Wire.ControlMessage
            {
                Ihave = { new Wire.ControlIHave { TopicID = "a", MessageIDs = { ByteString.CopyFrom(0, 0xff, 0x80) } } },
                Iwant = { new Wire.ControlIWant { MessageIDs = { ByteString.CopyFrom(1) } } },
                Graft = { new Wire.ControlGraft { TopicID = "a" } },
                Prune = { new Wire.ControlPrune { TopicID = "b", Backoff = 60, Peers = { new Wire.PeerInfo { PeerID = ByteString.CopyFrom(5) } } } },
                Idontwant = { new Wire.ControlIDontWant { MessageIDs = { ByteString.CopyFrom(2) } } },
            },
        };
        DecodedRpc rpc = Decode(original.ToByteArray());
        Assert.Equal(original.Subscriptions, rpc.Subscriptions);
        Assert.Equal(original.Publish, rpc.Messages);
        Assert.Equal(original.Control, rpc.Control);
    }

    [Fact]
    public void Decode_UnknownFieldsAtEveryLevel_AreSkipped()
    {
        // go's SubOpts fields 3/4 (bools), RPC field 10 (a message) and 6492434 (testExtension), a fixed32 and a fixed64.
        byte[] subOpts = Convert.FromHexString("0801" + "1201" + "61" + "1801" + "2001");
        byte[] rpc =
        [
            0x0a, (byte)subOpts.Length, .. subOpts,
            0x52, 0x02, 0x08, 0x01,                                 // field 10, length-delimited
            .. Varint.Encode((6492434UL << 3) | 2), 0x00,           // field 6492434, empty
            0x25, 1, 2, 3, 4,                                       // field 4, fixed32
            0x29, 1, 2, 3, 4, 5, 6, 7, 8,                           // field 5, fixed64
            0x30, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, // field 6, 10-byte varint (-1)
        ];
        DecodedRpc decoded = Decode(rpc);
        Assert.Equal("a", Assert.Single(decoded.Subscriptions).Topicid);
    }

    [Fact]
    public void Decode_TenThousandSubscriptions_ParsesOnlyTheLimit()
    {
        Wire.RPC rpc = new();
        for (int i = 0; i < 10_000; i++)
            rpc.Subscriptions.Add(new Wire.RPC.Types.SubOpts { Subscribe = true, Topicid = "topic-" + i });
        DecodedRpc decoded = Decode(rpc.ToByteArray());
        Assert.Equal(MaxSubs, decoded.Subscriptions.Count);
        Assert.Equal(10_000 - MaxSubs, decoded.SubscriptionsDropped);
    }

    [Fact]
    public void Decode_ControlSectionOverLimit_IsSkippedAndTheRestKept()
    {
        Wire.ControlIHave ihave = new() { TopicID = "t" };
        for (int i = 0; i < 1000; i++)
            ihave.MessageIDs.Add(ByteString.CopyFrom(new byte[40]));
        Wire.RPC rpc = new()
        {
            Subscriptions = { new Wire.RPC.Types.SubOpts { Subscribe = true, Topicid = "t" } },
            Control = new Wire.ControlMessage { Ihave = { ihave } },
        };
        DecodedRpc decoded = Decode(rpc.ToByteArray());
        Assert.True(decoded.ControlDropped);
        Assert.Null(decoded.Control);
        Assert.True(decoded.ControlBytes > MaxControl);
        Assert.Single(decoded.Subscriptions);
    }

    [Fact]
    public void Decode_SeveralControlFields_AreMergedAndCountedTogether()
    {
        byte[] graft = new Wire.ControlMessage { Graft = { new Wire.ControlGraft { TopicID = "x" } } }.ToByteArray();
        byte[] rpc = [0x1a, (byte)graft.Length, .. graft, 0x1a, (byte)graft.Length, .. graft];
        DecodedRpc decoded = Decode(rpc);
        Assert.Equal(2, decoded.Control!.Graft.Count);
        Assert.Throws<OversizedMessageException>(() => PubsubRpcCodec.Decode(new byte[PubsubRpcCodec.MaxRpcSize + 1], MaxSubs, MaxControl));
        DecodedRpc overBudget = PubsubRpcCodec.Decode(rpc, MaxSubs, graft.Length + 1);
        Assert.True(overBudget.ControlDropped);
    }

    [Theory]
    [InlineData("20", "truncated varint")]                        // unknown varint field with no value
    [InlineData("0a05", "announces")]                             // length past the end
    [InlineData("0801", "wire type")]                             // field 1 as a varint
    [InlineData("1005", "wire type")]                             // field 2 as a varint
    [InlineData("0b", "wire type")]                               // a group
    [InlineData("00", "field number 0")]
    [InlineData("0a0101", "malformed subscription")]              // SubOpts with a truncated field
    [InlineData("12010a", "malformed message")]
    [InlineData("1a03" + "0a01ff", "malformed control")]
    [InlineData("30ffffffffffffffffffff01", "longer than 10")]
    public void Decode_MalformedBytes_ThrowsProtocolViolation(string hex, string reason)
    {
        ProtocolViolationException e = Assert.ThrowsAny<ProtocolViolationException>(() => Decode(Convert.FromHexString(hex)));
        Assert.Contains(reason, e.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Decode_RandomBytes_OnlyProtocolViolations()
    {
        Gen.Byte.Array[0, 300].Sample(bytes =>
        {
            try
            {
                Decode(bytes);
            }
            catch (ProtocolViolationException)
            {
            }
        }, iter: 20_000);
    }

    [Fact]
    public void Decode_MutatedValidRpcs_OnlyProtocolViolations()
    {
        byte[] valid = new Wire.RPC
        {
            Subscriptions = { new Wire.RPC.Types.SubOpts { Subscribe = true, Topicid = "chat" } },
            Publish = { new Wire.Message { From = ByteString.CopyFrom(new byte[38]), Data = ByteString.CopyFromUtf8("hello"), Seqno = ByteString.CopyFrom(new byte[8]), Topic = "chat", Signature = ByteString.CopyFrom(new byte[64]) } },
            Control = new Wire.ControlMessage
            {
                Ihave = { new Wire.ControlIHave { TopicID = "chat", MessageIDs = { ByteString.CopyFrom(new byte[46]) } } },
                Prune = { new Wire.ControlPrune { TopicID = "chat", Backoff = ulong.MaxValue, Peers = { new Wire.PeerInfo { PeerID = ByteString.CopyFrom(1, 2) } } } },
            },
        }.ToByteArray();
        Gen.Select(Gen.Int[0, valid.Length - 1], Gen.Byte, Gen.Int[0, 3]).Array[1, 8].Sample(mutations =>
        {
            byte[] bytes = (byte[])valid.Clone();
            int length = bytes.Length;
            foreach ((int index, byte value, int kind) in mutations)
            {
                if (index >= length)
                    continue;
                switch (kind)
                {
                    case 0: bytes[index] = value; break;
                    case 1: bytes[index] ^= (byte)(1 << (value & 7)); break;
                    case 2: length = index; break;                     // truncate
                    default: bytes[index] = 0xff; break;
                }
            }
            try
            {
                PubsubRpcCodec.Decode(bytes.AsSpan(0, length), MaxSubs, MaxControl);
            }
            catch (ProtocolViolationException)
            {
            }
        }, iter: 20_000);
    }

    [Fact]
    public async Task ReadFrame_LengthPrefixOverOneMiB_RejectedBeforeTheBodyArrives()
    {
        Pipe pipe = new();
        // Announce 1 MiB + 1 and send only the prefix: the reader must refuse on the prefix alone.
        await pipe.Writer.WriteAsync(Varint.Encode(PubsubRpcCodec.MaxRpcSize + 1), TestContext.Current.CancellationToken);
        long before = GC.GetAllocatedBytesForCurrentThread();
        await Assert.ThrowsAsync<OversizedMessageException>(async () =>
            await pipe.Reader.ReadLengthPrefixedAsync(PubsubRpcCodec.MaxRpcSize, PubsubRouter.MeshsubV11, TestContext.Current.CancellationToken));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 64 * 1024);
    }

    [Fact]
    public void EncodePublish_ManyMessages_DecodesToTheSameMessages()
    {
        byte[][] messages = [.. Enumerable.Range(0, 3).Select(i => new Wire.Message { Topic = "t", Data = ByteString.CopyFrom(new byte[i * 200]) }.ToByteArray())];
        DecodedRpc single = Decode(PubsubRpcCodec.EncodePublish(messages[2]));
        Assert.Equal(400, Assert.Single(single.Messages).Data.Length);
        DecodedRpc many = Decode(PubsubRpcCodec.EncodePublish(messages));
        Assert.Equal([0, 200, 400], many.Messages.Select(m => m.Data.Length));
    }
}
