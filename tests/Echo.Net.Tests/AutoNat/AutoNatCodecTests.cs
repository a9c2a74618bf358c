using System.IO.Pipelines;
using Echo.Net.AutoNat;
using Echo.Net.Framing;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Google.Protobuf;
using Microsoft.Extensions.Time.Testing;
using V1 = Echo.Net.AutoNat.Pb.V1;
using V2 = Echo.Net.AutoNat.Pb.V2;

namespace Echo.Net.Tests.AutoNat;

/// <summary>AutoNAT's wire messages, its size limits, the server's throttle and the verdict rule.</summary>
public class AutoNatCodecTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task V2Messages_RoundTripThroughTheFraming()
    {
        Pipe pipe = new();
        V2.DialRequest request = new() { Nonce = 0xFEDC_BA98_7654_3210 };
        request.Addrs.Add(ByteString.CopyFrom(Multiaddr.Parse("/ip4/1.2.3.4/tcp/4001").ToBytes()));
        V2.Message[] sent =
        [
            new() { DialRequest = request },
            new() { DialDataRequest = new V2.DialDataRequest { AddrIdx = 0, NumBytes = 30_000 } },
            new() { DialDataResponse = new V2.DialDataResponse { Data = ByteString.CopyFrom(new byte[AutoNatLimits.MaxDialDataChunk]) } },
            new() { DialResponse = new V2.DialResponse { Status = V2.DialResponse.Types.ResponseStatus.Ok, AddrIdx = 0, DialStatus = V2.DialStatus.Ok } },
        ];
        foreach (V2.Message message in sent)
            await AutoNatCodec.WriteAsync(pipe.Writer, message, Ct);
        await pipe.Writer.CompleteAsync();
        foreach (V2.Message message in sent)
            Assert.Equal(message, await AutoNatCodec.ReadV2Async(pipe.Reader, Ct));
        Assert.Null(await AutoNatCodec.ReadV2Async(pipe.Reader, Ct));
    }

    [Fact]
    public async Task DialBackAndV1Messages_RoundTrip()
    {
        Pipe pipe = new();
        V2.DialBack back = new() { Nonce = ulong.MaxValue };
        V1.Message v1 = new()
        {
            Type = V1.Message.Types.MessageType.Dial,
            Dial = new V1.Message.Types.Dial
            {
                Peer = new V1.Message.Types.PeerInfo { Id = ByteString.CopyFrom(KeyPair.Generate().PeerId.ToBytes()) },
            },
        };
        await AutoNatCodec.WriteAsync(pipe.Writer, back, Ct);
        await AutoNatCodec.WriteAsync(pipe.Writer, v1, Ct);
        Assert.Equal(back, await AutoNatCodec.ReadDialBackAsync(pipe.Reader, V2.DialBack.Parser, Ct));
        Assert.Equal(v1, await AutoNatCodec.ReadV1Async(pipe.Reader, Ct));
    }

    /// <summary>
    /// Only the length prefix is sent: a reader that allocated (or waited for) the announced body
    /// would block or run out of memory; ours refuses on the prefix alone.
    /// </summary>
    [Theory]
    [InlineData(AutoNatLimits.MaxMessageLength + 1)]
    [InlineData(int.MaxValue)]
    public async Task AnOversizedLength_IsRefusedOnThePrefixAlone(int length)
    {
        Pipe pipe = new();
        byte[] prefix = new byte[Varint.MaxLength];
        int n = Varint.Write(prefix, (ulong)length);
        await pipe.Writer.WriteAsync(prefix.AsMemory(0, n), Ct);
        OversizedMessageException e = await Assert.ThrowsAsync<OversizedMessageException>(
            async () => await AutoNatCodec.ReadV2Async(pipe.Reader, Ct)).WaitAsync(TimeSpan.FromSeconds(5), Ct);
        Assert.Equal((ulong)length, e.Length);
    }

    [Fact]
    public async Task ADialBackMessageOverItsSmallLimit_IsRefused()
    {
        Pipe pipe = new();
        await pipe.Writer.WriteAsync(LengthPrefixed.Encode(new byte[AutoNatLimits.MaxDialBackMessageLength + 1]), Ct);
        await Assert.ThrowsAsync<OversizedMessageException>(async () => await AutoNatCodec.ReadDialBackAsync(pipe.Reader, V2.DialBack.Parser, Ct));
    }

    [Fact]
    public async Task AMalformedMessage_IsAProtocolViolation()
    {
        Pipe pipe = new();
        await pipe.Writer.WriteAsync(LengthPrefixed.Encode([0x0A, 0x05, 0x01]), Ct);   // field 1, length 5, one byte
        await Assert.ThrowsAsync<ProtocolViolationException>(async () => await AutoNatCodec.ReadV2Async(pipe.Reader, Ct));
    }

    [Fact]
    public void TheRateLimiter_AllowsThreeAPeerAndThirtyInAllPerMinute()
    {
        FakeTimeProvider time = new(DateTimeOffset.UtcNow);
        AutoNatRateLimiter limiter = new(30, 3, time);
        PeerId first = KeyPair.Generate().PeerId;
        for (int i = 0; i < 3; i++)
            Assert.True(limiter.TryAcquire(first));
        Assert.False(limiter.TryAcquire(first));
        for (int i = 0; i < 27; i++)
            Assert.True(limiter.TryAcquire(KeyPair.Generate().PeerId));
        Assert.False(limiter.TryAcquire(KeyPair.Generate().PeerId));
        time.Advance(TimeSpan.FromSeconds(59));
        Assert.False(limiter.TryAcquire(first));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(limiter.TryAcquire(first));
    }

    [Fact]
    public void TheTracker_NeedsMoreThanThreeAnswers_AndForgetsOldOnes()
    {
        FakeTimeProvider time = new(DateTimeOffset.UtcNow);
        ReachabilityTracker tracker = new(3, TimeSpan.FromMinutes(15), time);
        Multiaddr address = Multiaddr.Parse("/ip4/1.2.3.4/tcp/4001");
        tracker.SetCandidates([address]);
        for (int i = 0; i < 3; i++)
            tracker.Record(address, KeyPair.Generate().PeerId, reachable: true);
        Assert.Equal(ReachabilityStatus.Unknown, tracker.Report().Status);
        tracker.Record(address, KeyPair.Generate().PeerId, reachable: true);
        Assert.Equal(new ReachabilityReport(ReachabilityStatus.Public, [address]).Addresses, tracker.Report().Addresses);
        Assert.Equal(ReachabilityStatus.Public, tracker.Report().Status);
        time.Advance(TimeSpan.FromMinutes(30));
        Assert.Equal(ReachabilityStatus.Unknown, tracker.Report().Status);

        for (int i = 0; i < 4; i++)
            tracker.Record(address, KeyPair.Generate().PeerId, reachable: false);
        Assert.Equal(ReachabilityStatus.Private, tracker.Report().Status);
        Assert.True(tracker.SetCandidates([]));
        Assert.Equal(ReachabilityStatus.Unknown, tracker.Report().Status);
    }
}
