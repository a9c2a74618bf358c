using System.IO.Pipelines;
using Echo.Net.Framing;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Net.Relay;
using Echo.Net.Relay.Pb;
using Google.Protobuf;

namespace Echo.Net.Tests.Relay;

/// <summary>The circuit relay v2 wire: message bounds, limits, vouchers and relayed addresses.</summary>
public class RelayCodecTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task AHopMessageAnnouncingMoreThan4KiB_IsRefusedBeforeItsBodyArrives()
    {
        Pipe pipe = new();
        byte[] prefix = new byte[Varint.MaxLength];
        int n = Varint.Write(prefix, RelayCodec.MaxMessageLength + 1);
        await pipe.Writer.WriteAsync(prefix.AsMemory(0, n), Ct);
        OversizedMessageException e = await Assert.ThrowsAsync<OversizedMessageException>(
            () => RelayCodec.ReadHopAsync(pipe.Reader, Ct).AsTask());
        Assert.Equal(RelayCodec.HopProtocol, e.ProtocolId);
        Assert.Equal(4096, e.Limit);
    }

    private static byte[] StopMessageOf(int length)
    {
        for (int id = length; id > 0; id--)
        {
            byte[] body = new StopMessage { Type = StopMessage.Types.Type.Connect, Peer = new Peer { Id = ByteString.CopyFrom(new byte[id]) } }.ToByteArray();
            if (body.Length == length)
                return body;
        }
        throw new InvalidOperationException("no such length");
    }

    [Fact]
    public async Task AStopMessageOf4096Bytes_IsRead_And4097AreNot()
    {
        Pipe pipe = new();
        await pipe.Writer.WriteAsync(LengthPrefixed.Encode(StopMessageOf(4096)), Ct);
        Assert.NotNull(await RelayCodec.ReadStopAsync(pipe.Reader, Ct));
        await pipe.Writer.WriteAsync(LengthPrefixed.Encode(StopMessageOf(4097)), Ct);
        await Assert.ThrowsAsync<OversizedMessageException>(() => RelayCodec.ReadStopAsync(pipe.Reader, Ct).AsTask());
    }

    [Fact]
    public async Task GarbageInsideTheLength_IsAProtocolViolation()
    {
        Pipe pipe = new();
        await pipe.Writer.WriteAsync(LengthPrefixed.Encode([0x0a, 0xff, 0xff]), Ct);
        await Assert.ThrowsAnyAsync<ProtocolViolationException>(() => RelayCodec.ReadHopAsync(pipe.Reader, Ct).AsTask());
    }

    [Fact]
    public void Limits_AbsentIsUnknown_ZeroIsNone_ValuesAreKept()
    {
        Assert.Same(ConnectionLimit.Unknown, RelayCodec.ToConnectionLimit(null));
        Assert.Equal(new ConnectionLimit(null, null), RelayCodec.ToConnectionLimit(new Limit { Duration = 0, Data = 0 }));
        Assert.Equal(new ConnectionLimit(TimeSpan.FromSeconds(120), 131072), RelayCodec.ToConnectionLimit(new Limit { Duration = 120, Data = 131072 }));
        // js-libp2p's relay sends its 2 minutes as 120000 (milliseconds): read as 2 minutes.
        Assert.Equal(TimeSpan.FromMinutes(2), RelayCodec.ToConnectionLimit(new Limit { Duration = 120_000 }).Duration);
        Assert.Equal(TimeSpan.FromHours(24), RelayCodec.ToConnectionLimit(new Limit { Duration = 86_400 }).Duration);
        Limit wire = RelayCodec.ToLimit(TimeSpan.FromMinutes(2), 1 << 17)!;
        Assert.Equal((120u, 131072ul), (wire.Duration, wire.Data));
        Assert.Null(RelayCodec.ToLimit(null, null));
    }

    [Fact]
    public void AVoucher_SealedByTheRelay_Opens_AndNamesBothPeers()
    {
        KeyPair relay = KeyPair.Generate();
        PeerId peer = KeyPair.Generate().PeerId;
        DateTimeOffset expires = DateTimeOffset.FromUnixTimeSeconds(2_000_000_000);
        byte[] envelope = RelayVoucher.Seal(relay, peer, expires);
        RelayVoucher voucher = RelayVoucher.Open(envelope, relay.PeerId, peer);
        Assert.Equal(new RelayVoucher(relay.PeerId, peer, expires), voucher);

        // Another relay's voucher, or one for another peer, does not verify.
        Assert.Throws<ProtocolViolationException>(() => RelayVoucher.Open(envelope, KeyPair.Generate().PeerId, peer));
        Assert.Throws<ProtocolViolationException>(() => RelayVoucher.Open(envelope, relay.PeerId, KeyPair.Generate().PeerId));
        // A flipped byte breaks the signature.
        byte[] tampered = (byte[])envelope.Clone();
        tampered[^40] ^= 1;
        Assert.ThrowsAny<ProtocolViolationException>(() => RelayVoucher.Open(tampered, relay.PeerId, peer));
        // Only the libp2p domain: an app record of the same bytes is another signature.
        Assert.Throws<ArgumentException>(() => Echo.Net.Records.SignedRecord.Open(envelope, RelayVoucher.Domain));
    }

    [Theory]
    [InlineData("/ip4/1.2.3.4/tcp/4001/p2p/{R}/p2p-circuit/p2p/{D}", true, true)]
    [InlineData("/p2p/{R}/p2p-circuit/p2p/{D}", true, true)]
    [InlineData("/ip4/1.2.3.4/tcp/4001/p2p/{R}/p2p-circuit", true, false)]
    [InlineData("/ip4/1.2.3.4/tcp/4001/p2p/{D}", false, false)]
    [InlineData("/ip4/1.2.3.4/tcp/4001/p2p-circuit/p2p/{D}", false, false)]
    [InlineData("/p2p/{R}/p2p-circuit/p2p/{R}/p2p-circuit/p2p/{D}", false, false)]
    public void RelayedAddresses_SplitIntoRelayAndDestination(string template, bool relayed, bool hasDestination)
    {
        PeerId r = KeyPair.Generate().PeerId, d = KeyPair.Generate().PeerId;
        Multiaddr address = Multiaddr.Parse(template.Replace("{R}", r.ToString(), StringComparison.Ordinal).Replace("{D}", d.ToString(), StringComparison.Ordinal));
        Assert.Equal(relayed, RelayAddressing.TrySplit(address, out Multiaddr? relay, out PeerId? destination));
        if (!relayed)
            return;
        Assert.Equal(r, relay!.PeerId);
        Assert.False(RelayAddressing.IsCircuit(relay));
        Assert.Equal(hasDestination ? d : null, destination);
        Assert.Equal(r, RelayAddressing.RelayOf(address));
    }
}
