using System.IO.Pipelines;
using System.Net;
using Echo.Net.Addressing;
using Echo.Net.Dcutr;
using Echo.Net.Framing;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Google.Protobuf;
using HolePunch = Echo.Net.Dcutr.Pb.HolePunch;

namespace Echo.Net.Tests.Dcutr;

/// <summary>DCUtR's wire messages, its size limit, the address checks and the roles on a punched connection.</summary>
public class DcutrCodecTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly AddressClassifier Lab = new([IPNetwork.Parse("10.200.0.0/24")]);

    [Fact]
    public async Task ConnectAndSync_RoundTripThroughTheFraming()
    {
        Pipe pipe = new();
        Multiaddr[] addresses = [Multiaddr.Parse("/ip4/1.2.3.4/tcp/4001"), Multiaddr.Parse("/ip6/2001:4860::1/tcp/4002")];
        await DcutrCodec.WriteAsync(pipe.Writer, DcutrCodec.Connect(addresses), Ct);
        await DcutrCodec.WriteAsync(pipe.Writer, DcutrCodec.Sync(), Ct);
        await pipe.Writer.CompleteAsync();

        HolePunch? connect = await DcutrCodec.ReadAsync(pipe.Reader, Ct);
        Assert.Equal(HolePunch.Types.Type.Connect, connect!.Type);
        Assert.Equal(addresses, connect.ObsAddrs.Select(b => Multiaddr.FromBytes(b.Span)));
        Assert.Equal(HolePunch.Types.Type.Sync, (await DcutrCodec.ReadAsync(pipe.Reader, Ct))!.Type);
        Assert.Null(await DcutrCodec.ReadAsync(pipe.Reader, Ct));
    }

    [Fact]
    public async Task OversizedMessage_IsRefusedFromItsLengthPrefix()
    {
        Pipe pipe = new();
        // Only the prefix is sent, and the stream stays open: the limit must be checked before waiting or allocating.
        byte[] prefix = new byte[10];
        int length = Varint.Write(prefix, DcutrLimits.MaxMessageLength + 1);
        await pipe.Writer.WriteAsync(prefix.AsMemory(0, length), Ct);

        OversizedMessageException e = await Assert.ThrowsAsync<OversizedMessageException>(
            () => DcutrCodec.ReadAsync(pipe.Reader, Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(10), Ct));
        Assert.Equal((ulong)DcutrLimits.MaxMessageLength + 1, e.Length);
        Assert.Equal(Libp2pHost.DcutrProtocolId, e.ProtocolId);
    }

    [Fact]
    public async Task MessageOfExactlyTheLimit_IsAccepted()
    {
        HolePunch big = new() { Type = HolePunch.Types.Type.Connect };
        big.ObsAddrs.Add(ByteString.CopyFrom(new byte[DcutrLimits.MaxMessageLength - 5]));
        Assert.Equal(DcutrLimits.MaxMessageLength, big.CalculateSize());
        Pipe pipe = new();
        await DcutrCodec.WriteAsync(pipe.Writer, big, Ct);
        Assert.Equal(big, await DcutrCodec.ReadAsync(pipe.Reader, Ct));
    }

    [Theory]
    [InlineData(new byte[] { 0x12, 0x02, 0x01, 0x02 })]                   // ObsAddrs only, no type
    [InlineData(new byte[] { 0x08, 0x05 })]                               // type 5: neither CONNECT nor SYNC
    [InlineData(new byte[] { 0x12, 0x7f, 0x01 })]                         // a field longer than the message
    [InlineData(new byte[] { 0xff, 0xff, 0xff })]                         // not protobuf
    public void MalformedMessages_AreProtocolViolations(byte[] bytes)
    {
        ProtocolViolationException e = Assert.ThrowsAny<ProtocolViolationException>(() => DcutrCodec.Parse(bytes));
        Assert.Equal(Libp2pHost.DcutrProtocolId, e.ProtocolId);
    }

    [Fact]
    public void UsableAddresses_KeepPublicTcpOnly_AndDropGarbageWithoutError()
    {
        PeerId peer = KeyPair.Generate().PeerId;
        PeerId other = KeyPair.Generate().PeerId;
        ByteString[] raw =
        [
            ByteString.CopyFrom(0xde, 0xad, 0xbe, 0xef),                                         // not a multiaddr
            ByteString.Empty,
            Bytes("/ip4/10.200.0.11/tcp/4001"),                                                     // the lab's "internet": kept
            Bytes("/ip4/10.200.0.11/tcp/4001"),                                                     // duplicate
            Bytes($"/ip4/1.2.3.4/tcp/4002/p2p/{peer}"),                                             // kept, without the id
            Bytes($"/ip4/1.2.3.5/tcp/4003/p2p/{other}"),                                            // another peer's
            Bytes($"/ip4/1.2.3.6/tcp/4001/p2p/{other}/p2p-circuit"),                                // a relay address
            Bytes("/ip4/192.168.1.5/tcp/4001"),                                                     // private
            Bytes("/ip4/10.1.2.3/tcp/4001"),                                                        // private (outside the public range)
            Bytes("/ip4/127.0.0.1/tcp/4001"),                                                       // loopback
            Bytes("/ip4/169.254.1.1/tcp/4001"),                                                     // link-local
            Bytes("/ip4/1.2.3.4/udp/4001/quic-v1"),                                                 // not TCP
            Bytes("/dns4/example.com/tcp/4001"),                                                    // a name: nothing to punch
            Bytes("/ip4/1.2.3.4/tcp/0"),                                                            // no port
        ];

        (IReadOnlyList<Multiaddr> usable, int dropped) = DcutrCodec.UsableAddresses(raw, Lab, peer);

        Assert.Equal([Multiaddr.Parse("/ip4/10.200.0.11/tcp/4001"), Multiaddr.Parse("/ip4/1.2.3.4/tcp/4002")], usable);
        Assert.Equal(raw.Length - 2, dropped);
    }

    [Fact]
    public void UsableAddresses_AreBounded()
    {
        ByteString[] raw = [.. Enumerable.Range(1, 100).Select(i => Bytes($"/ip4/1.2.3.4/tcp/{i}"))];
        (IReadOnlyList<Multiaddr> usable, int dropped) = DcutrCodec.UsableAddresses(raw, Lab, KeyPair.Generate().PeerId);
        Assert.Equal(DcutrLimits.MaxAddresses, usable.Count);
        Assert.Equal(100 - DcutrLimits.MaxAddresses, dropped);
    }

    [Fact]
    public void PortsDiffer_WhenOneIpComesWithAnotherPort()
    {
        Multiaddr[] first = [Multiaddr.Parse("/ip4/1.2.3.4/tcp/4001"), Multiaddr.Parse("/ip4/5.6.7.8/tcp/9")];
        Assert.False(DcutrCodec.PortsDiffer(first, first));
        Assert.False(DcutrCodec.PortsDiffer(first, [Multiaddr.Parse("/ip4/9.9.9.9/tcp/1")]));
        Assert.True(DcutrCodec.PortsDiffer(first, [Multiaddr.Parse("/ip4/1.2.3.4/tcp/4002")]));
    }

    [Theory]
    [InlineData(true, 1, ConnectionRole.Initiator)]     // A, who received SYNC, is the client
    [InlineData(true, 2, ConnectionRole.Initiator)]
    [InlineData(true, 3, ConnectionRole.Responder)]     // the last attempt swaps (go before v0.41)
    [InlineData(false, 1, ConnectionRole.Responder)]    // B, who sent SYNC, responds
    [InlineData(false, 2, ConnectionRole.Responder)]
    [InlineData(false, 3, ConnectionRole.Initiator)]
    public void RoleOnThePunchedConnection_FollowsTheSpec_AndSwapsOnTheThirdAttempt(bool receivedSync, int attempt, ConnectionRole expected) =>
        Assert.Equal(expected, DcutrRoles.OnPunchedConnection(receivedSync, attempt));

    [Fact]
    public void RoleOfAttemptZero_IsAnError() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => DcutrRoles.OnPunchedConnection(true, 0));

    private static ByteString Bytes(string address) => ByteString.CopyFrom(Multiaddr.Parse(address).Bytes);
}
