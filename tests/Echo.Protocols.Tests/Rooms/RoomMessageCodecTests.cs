using System.Text;
using CsCheck;
using Echo.Core.Chat;
using Echo.Protocols.Rooms;

namespace Echo.Protocols.Tests.Rooms;

public sealed class RoomMessageCodecTests
{
    private const string Alice = "12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp";

    private static RoomMessage Decode(string json) => RoomMessageCodec.Decode(Encoding.UTF8.GetBytes(json));

    [Fact]
    public void RoundTrip_KeepsEveryField_AndWritesGoFieldNames()
    {
        DateTimeOffset at = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_123);
        byte[] data = RoomMessageCodec.Encode("hello \"world\" ✓", Alice, "alice", at);
        Assert.Equal("""{"Message":"hello \u0022world\u0022 \u2713","SenderID":"12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp","SenderNick":"alice","Timestamp":1700000000123}""",
            Encoding.UTF8.GetString(data));
        Assert.Equal(new RoomMessage("hello \"world\" ✓", Alice, "alice", at), RoomMessageCodec.Decode(data));
    }

    [Fact]
    public void GoExampleMessage_WithoutTimestamp_IsAccepted()
    {
        // Exactly what go-libp2p's pubsub chat example marshals.
        RoomMessage m = Decode($$"""{"Message":"hi from go","SenderID":"{{Alice}}","SenderNick":"gopher"}""");
        Assert.Equal(new RoomMessage("hi from go", Alice, "gopher", null), m);
    }

    [Fact]
    public void UnknownFields_AreIgnored_NamesMatchIgnoringCase_AsInGo()
    {
        RoomMessage m = Decode($$"""{"x":[1,{"y":null}],"message":"hi","senderid":"{{Alice}}","Extra":"z","SenderNick":"a"}""");
        Assert.Equal(new RoomMessage("hi", Alice, "a", null), m);
    }

    [Theory]
    [InlineData("\"soon\"")]
    [InlineData("1.5")]
    [InlineData("-99999999999999999")]
    [InlineData("99999999999999999999999")]
    [InlineData("null")]
    [InlineData("{}")]
    public void AnUnusableTimestamp_IsTreatedAsAbsent(string timestamp)
    {
        RoomMessage m = Decode($$"""{"Message":"hi","SenderID":"{{Alice}}","Timestamp":{{timestamp}}}""");
        Assert.Null(m.Timestamp);
        Assert.Null(m.SenderNick);
    }

    [Theory]
    [InlineData("", "not a JSON object")]
    [InlineData("null", "not a JSON object")]
    [InlineData("[]", "not a JSON object")]
    [InlineData("\"text\"", "not a JSON object")]
    [InlineData("{\"Message\":\"hi\"", "not a JSON object")]
    [InlineData("{\"Message\":\"hi\",\"SenderID\":\"x\"} trailing", "not a JSON object")]
    [InlineData("{\"Message\":1,\"SenderID\":\"x\"}", "not a JSON object")]
    [InlineData("{\"SenderID\":\"x\"}", "no Message")]
    [InlineData("{\"Message\":\"\",\"SenderID\":\"x\"}", "no Message")]
    [InlineData("{\"Message\":\"hi\"}", "no SenderID")]
    [InlineData("{\"Message\":\"hi\",\"SenderID\":null}", "no SenderID")]
    public void Malformed_IsRejectedWithTheReason(string json, string reason)
    {
        RoomMessageFormatException e = Assert.Throws<RoomMessageFormatException>(() => Decode(json));
        Assert.Contains(reason, e.Message);
    }

    [Fact]
    public void TextOverTheLimit_IsRejected_AtTheLimit_Accepted()
    {
        string atLimit = new('é', ChatLimits.MaxTextBytes / 2);
        Assert.Equal(atLimit, Decode($$"""{"Message":"{{atLimit}}","SenderID":"{{Alice}}"}""").Text);
        string over = atLimit + "x";
        Assert.Contains($"{ChatLimits.MaxTextBytes + 1} bytes",
            Assert.Throws<RoomMessageFormatException>(() => Decode($$"""{"Message":"{{over}}","SenderID":"{{Alice}}"}""")).Message);
    }

    [Fact]
    public void NickOverTheLimit_IsRejected()
    {
        string nick = new('n', ChatLimits.MaxNickLength);
        Assert.Equal(nick, Decode($$"""{"Message":"m","SenderID":"{{Alice}}","SenderNick":"{{nick}}"}""").SenderNick);
        Assert.Throws<RoomMessageFormatException>(() => Decode($$"""{"Message":"m","SenderID":"{{Alice}}","SenderNick":"{{nick}}n"}"""));
    }

    [Fact]
    public void DataOverThePayloadLimit_IsRejectedBeforeParsing()
    {
        byte[] data = new byte[RoomMessageCodec.MaxPayloadBytes + 1];
        data.AsSpan().Fill((byte)' ');
        Assert.Contains("limit", Assert.Throws<RoomMessageFormatException>(() => RoomMessageCodec.Decode(data)).Message);
    }

    private static void DecodeOrReject(byte[] data)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            RoomMessageCodec.Decode(data);
        }
        catch (RoomMessageFormatException)
        {
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        // Strings and the exception are proportional to the input; nothing grows beyond that.
        Assert.True(allocated < 64 * 1024 + 16L * data.Length, $"{allocated} bytes allocated for {data.Length} bytes of input");
    }

    [Fact]
    public void RandomBytes_OnlyEverRejectTyped_WithBoundedAllocation() =>
        Gen.Byte.Array[0, 512].Sample(DecodeOrReject, iter: 100_000);

    [Fact]
    public void MutatedMessages_OnlyEverRejectTyped_WithBoundedAllocation()
    {
        byte[] valid = RoomMessageCodec.Encode("hello there", Alice, "alice", DateTimeOffset.UnixEpoch.AddDays(20_000));
        Gen<byte[]> mutated = Gen.Select(Gen.Int[0, valid.Length - 1].Array[1, 8], Gen.Byte.Array[8], Gen.Int[0, 2],
            (positions, values, mode) =>
            {
                byte[] copy = mode == 2 ? valid[..positions[0]] : (byte[])valid.Clone();
                if (mode == 0)
                {
                    for (int i = 0; i < positions.Length; i++)
                        copy[positions[i]] = values[i];
                }
                else if (mode == 1)
                {
                    foreach (int p in positions)
                        copy[p] = (byte)(copy[p] ^ (1 << (p % 8)));
                }
                return copy;
            });
        mutated.Sample(DecodeOrReject, iter: 100_000);
    }

    [Fact]
    public void RandomJsonShapedText_OnlyEverRejectTyped()
    {
        string[] tokens = ["{", "}", "[", "]", ",", ":", "\"Message\"", "\"SenderID\"", "\"SenderNick\"",
            "\"Timestamp\"", "\"x\"", "1", "-0.5e3", "null", "true", "\"\\ud800\"", "\"\\u0000\"", "\"a|b\"", " "];
        Gen<string> token = Gen.Int[0, tokens.Length - 1].Select(i => tokens[i]);
        token.Array[0, 40].Select(t => Encoding.UTF8.GetBytes(string.Concat(t))).Sample(DecodeOrReject, iter: 100_000);
    }
}
