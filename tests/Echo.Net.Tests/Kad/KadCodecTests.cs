using System.IO.Pipelines;
using Echo.Net.Framing;
using Echo.Net.Identity;
using Echo.Net.Kad;
using Echo.Net.Multiformats;
using Google.Protobuf;
using KadPb = Echo.Net.Kad.Pb;

namespace Echo.Net.Tests.Kad;

/// <summary>The kad wire: size and count bounds checked before allocating, and peer validation.</summary>
public class KadCodecTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Read_LengthOverTheLimit_RefusedBeforeTheBodyArrives()
    {
        Pipe pipe = new();
        // Only the prefix: a reader that allocated first would wait for 5 MiB that never come.
        await pipe.Writer.WriteAsync(Varint.Encode(5UL * 1024 * 1024), Ct);
        OversizedMessageException e = await Assert.ThrowsAsync<OversizedMessageException>(
            async () => await KadCodec.ReadAsync(pipe.Reader, KadLimits.MaxMessageBytes, Ct));
        Assert.Equal((ulong)(5 * 1024 * 1024), e.Length);
    }

    [Fact]
    public void Parse_TenThousandCloserPeers_RefusedWithoutBuildingThem()
    {
        KadPb.Message message = new() { Type = KadPb.Message.Types.MessageType.FindNode, Key = ByteString.CopyFromUtf8("k") };
        KadPb.Message.Types.Peer peer = new() { Id = ByteString.CopyFrom(KeyPair.Generate().PeerId.Bytes) };
        for (int i = 0; i < 10_000; i++)
            message.CloserPeers.Add(peer);
        byte[] bytes = message.ToByteArray();
        Assert.True(bytes.Length < KadLimits.MaxMessageBytes);

        ProtocolViolationException e = Assert.Throws<ProtocolViolationException>(() => KadCodec.Parse(bytes));
        Assert.Contains("closer peers", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_AtTheCloserPeerLimit_Accepted()
    {
        KadPb.Message message = new() { Type = KadPb.Message.Types.MessageType.FindNode };
        for (int i = 0; i < KadLimits.MaxCloserPeers; i++)
            message.CloserPeers.Add(new KadPb.Message.Types.Peer { Id = ByteString.CopyFrom(KeyPair.Generate().PeerId.Bytes) });
        Assert.Equal(KadLimits.MaxCloserPeers, KadCodec.Parse(message.ToByteArray()).CloserPeers.Count);
    }

    [Fact]
    public void Parse_Garbage_IsAProtocolViolation() =>
        Assert.Throws<ProtocolViolationException>(() => KadCodec.Parse([0x0a, 0xff, 0xff, 0xff]));

    [Fact]
    public void ToPeer_BadIdIsNull_BadAndForeignAddressesDropped_AtMostSixteenKept()
    {
        Assert.Null(KadCodec.ToPeer(new KadPb.Message.Types.Peer { Id = ByteString.CopyFrom([1, 2, 3]) }, null));

        PeerId id = KeyPair.Generate().PeerId;
        KadPb.Message.Types.Peer raw = new() { Id = ByteString.CopyFrom(id.Bytes) };
        raw.Addrs.Add(ByteString.CopyFrom([0xff, 0xff]));                                                        // not a multiaddr
        raw.Addrs.Add(ByteString.CopyFrom(Multiaddr.Parse("/ip4/127.0.0.1/udp/1/quic-v1").Bytes));              // not TCP
        raw.Addrs.Add(ByteString.CopyFrom(Multiaddr.Parse($"/ip4/127.0.0.1/tcp/1/p2p/{KeyPair.Generate().PeerId}").Bytes)); // another peer's
        raw.Addrs.Add(ByteString.CopyFrom(Multiaddr.Parse($"/ip4/127.0.0.1/tcp/2/p2p/{id}").Bytes));
        for (int port = 3; port < 40; port++)
            raw.Addrs.Add(ByteString.CopyFrom(Multiaddr.Parse($"/ip4/127.0.0.1/tcp/{port}").Bytes));

        KadPeer peer = KadCodec.ToPeer(raw, null)!;
        Assert.Equal(id, peer.Id);
        Assert.Equal(KadLimits.MaxAddressesPerPeer, peer.Addresses.Count);
        Assert.Equal(Multiaddr.Parse("/ip4/127.0.0.1/tcp/2"), peer.Addresses[0]);

        KadPeer filtered = KadCodec.ToPeer(raw, a => a.ToString().EndsWith("/tcp/5", StringComparison.Ordinal))!;
        Assert.Equal([Multiaddr.Parse("/ip4/127.0.0.1/tcp/5")], filtered.Addresses);
    }

    [Fact]
    public void ToPeer_CircuitAddresses_KeptForProvidersOnly_AndOnlyThroughADialableRelay()
    {
        PeerId id = KeyPair.Generate().PeerId, relay = KeyPair.Generate().PeerId;
        Multiaddr circuit = Multiaddr.Parse($"/ip4/10.200.0.1/tcp/4001/p2p/{relay}/p2p-circuit");
        KadPb.Message.Types.Peer raw = new() { Id = ByteString.CopyFrom(id.Bytes) };
        raw.Addrs.Add(ByteString.CopyFrom(circuit.Bytes));
        raw.Addrs.Add(ByteString.CopyFrom(Multiaddr.Parse($"{circuit}/p2p/{id}").Bytes));                         // the same, with the peer's id
        raw.Addrs.Add(ByteString.CopyFrom(Multiaddr.Parse($"/ip4/10.200.0.1/udp/1/quic-v1/p2p/{relay}/p2p-circuit").Bytes)); // relay not on TCP
        raw.Addrs.Add(ByteString.CopyFrom(Multiaddr.Parse($"{circuit}/p2p/{relay}/p2p-circuit").Bytes));          // a circuit through a circuit

        Assert.Equal([circuit], KadCodec.ToPeer(raw, null, allowCircuits: true)!.Addresses);
        Assert.Empty(KadCodec.ToPeer(raw, null)!.Addresses);
    }

    [Theory]
    [InlineData("1220" + "0000000000000000000000000000000000000000000000000000000000000000", true)]
    [InlineData("0003616263", true)]                 // identity multihash of "abc"
    [InlineData("1220", false)]                       // digest missing
    [InlineData("122000", false)]                     // too short
    [InlineData("65636865", false)]                   // "eche": raw text
    [InlineData("", false)]
    public void IsMultihash(string hex, bool expected) =>
        Assert.Equal(expected, KadKey.IsMultihash(Convert.FromHexString(hex), out _));

    [Fact]
    public void Sha256Multihash_IsTheSha256DigestBehind0x1220()
    {
        byte[] mh = KadDht.Sha256Multihash("echo-chat/room/v1/lobby"u8);
        Assert.Equal(34, mh.Length);
        Assert.Equal([0x12, 0x20], mh[..2]);
        Assert.Equal(System.Security.Cryptography.SHA256.HashData("echo-chat/room/v1/lobby"u8), mh[2..]);
    }
}
