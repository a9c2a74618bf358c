using Echo.Net.Framing;
using Echo.Net.Host;
using Echo.Net.Identify;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Google.Protobuf;
using static Echo.Net.Tests.Identify.BadPeerKit;
using IdentifyMessage = Echo.Net.Identify.Pb.Identify;

namespace Echo.Net.Tests.Identify;

/// <summary>
/// Rule I-1 of docs/LIMITS.md for identify push (/ipfs/id/push/1.0.0): the same abuses as in an identify
/// answer, pushed by a connected peer. A push is merged into what we know (absent fields keep their
/// values); a rejected push resets its stream and leaves what we know untouched.
/// </summary>
public class IdentifyPushBadPeerTests
{
    private sealed class Setup(Libp2pHost honest, RecordingLoggerFactory log, Libp2pHost bad, Connection connection, IdentifyInfo before)
        : IAsyncDisposable
    {
        public Libp2pHost Honest { get; } = honest;
        public RecordingLoggerFactory Log { get; } = log;
        public Libp2pHost Bad { get; } = bad;
        public Connection Connection { get; } = connection;
        public IdentifyInfo Before { get; } = before;

        public IdentifyInfo Now => Honest.PeerStore.Get(Bad.PeerId)!;

        public Task<bool> PushAsync(byte[] raw) => SendRawAsync(Bad, Honest.PeerId, IdentifyProtocol.PushProtocolId, raw);

        /// <summary>Waits until the honest host has stored the push it acknowledged (it half-closes just before).</summary>
        public Task PushStoredAsync() => Log.WaitForAsync(e => e.EventId == PushReceived && e.IsAbout(Bad.PeerId));

        public async ValueTask DisposeAsync()
        {
            await Bad.DisposeAsync();
            await Honest.DisposeAsync();
            Assert.Empty(Log.Where(e => e.EventId == 1507));     // no handler failed with anything but a protocol error
        }
    }

    /// <summary>The honest host dialed the (so far well-behaved) peer and identified it.</summary>
    private static async Task<Setup> ConnectAsync()
    {
        RecordingLoggerFactory log = new();
        Libp2pHost honest = await StartAsync(log);
        Libp2pHost bad = await StartAsync(options: new HostOptions { AgentVersion = "bad/1" });
        (Connection connection, RecordingLoggerFactory.Entry outcome) = await BadPeerKit.ConnectAsync(honest, log, bad);
        Assert.Equal(Identified, outcome.EventId);
        IdentifyInfo before = honest.PeerStore.Get(bad.PeerId)!;
        Assert.Equal("bad/1", before.AgentVersion);
        Assert.NotEmpty(before.ListenAddresses);
        Assert.NotNull(before.ObservedAddress);
        return new Setup(honest, log, bad, connection, before);
    }

    public static TheoryData<string> Abuses => ["over 8 KiB", "11 messages", "another peer's key", "malformed protobuf",
        "1 MiB announced", "10-byte length", "cut short"];

    private static byte[] Abuse(string abuse, Libp2pHost bad)
    {
        IdentifyMessage protocols = new() { Protocols = { "/pushed/1.0.0" } };
        switch (abuse)
        {
            case "over 8 KiB":
                return Frame(PadTo(protocols, IdentifyLimits.MaxMessageLength + 1));
            case "11 messages":
                return Frame([.. Enumerable.Range(0, IdentifyLimits.MaxMessages + 1).Select(_ => protocols.ToByteArray())]);
            case "another peer's key":
                using (KeyPair other = KeyPair.Generate())
                {
                    protocols.PublicKey = ByteString.CopyFrom(other.PublicKey.ToProtobuf());
                    return Frame(protocols.ToByteArray());
                }
            case "malformed protobuf":
                return Frame(protocols.ToByteArray(), [0x0a, 0xff]);
            case "1 MiB announced":
                return [.. Varint.Encode(1 << 20), .. new byte[100]];
            case "10-byte length":
                return Convert.FromHexString("ffffffffffffffffff01");
            case "cut short":
                return [.. Varint.Encode(100), .. new byte[10]];
            default:
                throw new ArgumentOutOfRangeException(nameof(abuse));
        }
    }

    [Theory(Timeout = 60_000)]
    [MemberData(nameof(Abuses))]
    public async Task Push_Abuse_ResetsOnlyItsStreamAndChangesNothing(string abuse)
    {
        await using Setup setup = await ConnectAsync();

        bool acknowledged = await setup.PushAsync(Abuse(abuse, setup.Bad));

        Assert.False(acknowledged, "the push stream was reset");
        RecordingLoggerFactory.Entry rejected = await setup.Log.WaitForAsync(e => e.EventId == InboundStreamRejected && e.IsAbout(setup.Bad.PeerId));
        Assert.Equal(IdentifyProtocol.PushProtocolId, rejected["Protocol"]);
        Assert.Same(setup.Before, setup.Now);
        await AssertStillConnectedAsync(setup.Honest, setup.Bad.PeerId, setup.Connection);
        Assert.True(await Bounded(setup.Honest.PingAsync(setup.Bad.PeerId, Ct)) >= TimeSpan.Zero);
    }

    [Fact(Timeout = 60_000)]
    public async Task Push_OnlyProtocols_ReplacesThemAndKeepsEverythingElse()
    {
        await using Setup setup = await ConnectAsync();

        Assert.True(await setup.PushAsync(Frame(new IdentifyMessage { Protocols = { "/a/1", "/b/1" } }.ToByteArray())));
        await setup.PushStoredAsync();

        Assert.Equal(setup.Before with { Protocols = ["/a/1", "/b/1"] }, setup.Now, InfoComparer);
    }

    [Fact(Timeout = 60_000)]
    public async Task Push_NothingAtAll_KeepsEverything()
    {
        await using Setup setup = await ConnectAsync();

        Assert.True(await setup.PushAsync([]));
        await setup.PushStoredAsync();

        Assert.Equal(setup.Before, setup.Now, InfoComparer);
    }

    [Fact(Timeout = 60_000)]
    public async Task Push_10000ListenAddresses_StoredTruncatedTo500KeepingProtocols()
    {
        await using Setup setup = await ConnectAsync();
        Multiaddr[] addresses = ManyAddresses(10_000);
        List<byte[]> messages = Pack(new IdentifyMessage(), addresses.Select(a => ByteString.CopyFrom(a.ToBytes())), []);
        Assert.InRange(messages.Count, 2, IdentifyLimits.MaxMessages);

        Assert.True(await setup.PushAsync(Frame(messages)));
        await setup.PushStoredAsync();

        Assert.Equal(setup.Before with { ListenAddresses = [.. addresses.Take(IdentifyLimits.MaxStoredAddresses)] }, setup.Now, InfoComparer);
        await AssertStillConnectedAsync(setup.Honest, setup.Bad.PeerId, setup.Connection);
    }

    [Fact(Timeout = 60_000)]
    public async Task Push_10000Protocols_StoredTruncatedTo1024KeepingAddresses()
    {
        await using Setup setup = await ConnectAsync();
        string[] protocols = ManyProtocols(10_000);
        List<byte[]> messages = Pack(new IdentifyMessage(), [], protocols);
        Assert.InRange(messages.Count, 2, IdentifyLimits.MaxMessages);

        Assert.True(await setup.PushAsync(Frame(messages)));
        await setup.PushStoredAsync();

        Assert.Equal(setup.Before with { Protocols = [.. protocols.Take(IdentifyLimits.MaxStoredProtocols)] }, setup.Now, InfoComparer);
        await AssertStillConnectedAsync(setup.Honest, setup.Bad.PeerId, setup.Connection);
    }

    [Fact(Timeout = 60_000)]
    public async Task Push_UnparseableAddressAmongGoodOnes_OnlyItIsDropped()
    {
        await using Setup setup = await ConnectAsync();
        Multiaddr first = Multiaddr.Parse("/ip4/192.0.2.1/tcp/1");
        Multiaddr second = Multiaddr.Parse("/dns4/example.com/tcp/2");
        IdentifyMessage message = new()
        {
            ListenAddrs = { ByteString.CopyFrom(first.ToBytes()), ByteString.CopyFrom([0x29, 0x00]), ByteString.CopyFrom(second.ToBytes()) },
        };

        Assert.True(await setup.PushAsync(Frame(message.ToByteArray())));
        await setup.PushStoredAsync();

        Assert.Equal(setup.Before with { ListenAddresses = [first, second] }, setup.Now, InfoComparer);
    }

    [Fact(Timeout = 60_000)]
    public async Task Push_OwnKeyAndNewAgent_Accepted()
    {
        await using Setup setup = await ConnectAsync();
        IdentifyMessage message = new()
        {
            PublicKey = ByteString.CopyFrom(setup.Bad.IdentityKey.PublicKey.ToProtobuf()),
            AgentVersion = "bad/2",
        };

        Assert.True(await setup.PushAsync(Frame(message.ToByteArray())));
        await setup.PushStoredAsync();

        Assert.Equal(setup.Before with { AgentVersion = "bad/2" }, setup.Now, InfoComparer);
    }

    /// <summary>IdentifyInfo is a record over lists: compare the lists' contents, not their references.</summary>
    private static readonly IEqualityComparer<IdentifyInfo> InfoComparer = EqualityComparer<IdentifyInfo>.Create((a, b) =>
        a is not null && b is not null && a.Peer == b.Peer && a.ProtocolVersion == b.ProtocolVersion && a.AgentVersion == b.AgentVersion
        && a.ListenAddresses.SequenceEqual(b.ListenAddresses) && a.Protocols.SequenceEqual(b.Protocols) && a.ObservedAddress == b.ObservedAddress,
        info => info.Peer.GetHashCode());
}
