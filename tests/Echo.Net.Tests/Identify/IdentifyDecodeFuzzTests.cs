using System.Diagnostics;
using CsCheck;
using Echo.Net.Framing;
using Echo.Net.Identify;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Google.Protobuf;
using IdentifyMessage = Echo.Net.Identify.Pb.Identify;

namespace Echo.Net.Tests.Identify;

/// <summary>
/// Rule P-1 of docs/LIMITS.md for the identify decoder (one length-delimited message: protobuf parse,
/// merge, then <see cref="IdentifyProtocol.ToInfo"/>): random and mutated-valid input is either
/// refused with <see cref="ProtocolViolationException"/> or becomes an <see cref="IdentifyInfo"/>
/// within the stored limits, and what a decode allocates follows the input's length, never a
/// length the input announces.
/// </summary>
public class IdentifyDecodeFuzzTests
{
    private const int Iterations = 100_000;

    /// <summary>
    /// Allocation allowed for one decode of <paramref name="length"/> input bytes. Protobuf
    /// materialises every element: an empty repeated bytes field (2 wire bytes) costs about 72 bytes
    /// (a ByteString, its buffer and a list slot), an empty group (2 wire bytes, kept as an unknown
    /// field) about 140, and a nested group about 115 per byte; ToInfo adds at most one decode per
    /// kept entry. So the bound is linear, 128 bytes per input byte plus 4 KiB of fixed cost (one
    /// 8 KiB message: at most about 1 MiB). What it rules out is allocation following a claimed
    /// length: a 2 GiB length prefix inside 10 bytes of input may cost 5 KiB, not 2 GiB.
    /// </summary>
    private static long MaxAllocated(int length) => 4096 + 128L * length;

    private static readonly KeyPair Own = KeyPair.Generate();
    private static readonly KeyPair Other = KeyPair.Generate();

    private static readonly IdentifyInfo Previous = new(Own.PeerId, "ipfs/0.1.0", "previous/1",
        [Multiaddr.Parse("/ip4/192.0.2.1/tcp/1")], ["/previous/1.0.0"], Multiaddr.Parse("/ip4/192.0.2.2/tcp/2"));

    private static readonly byte[][] AddressPool =
    [
        .. new[]
        {
            "/ip4/127.0.0.1/tcp/4001", "/ip6/::1/tcp/4001", "/ip4/192.0.2.7/udp/4001/quic-v1", "/dns4/example.com/tcp/443/wss",
            "/ip4/10.0.0.1/tcp/1/p2p/" + Own.PeerId, "/ip6zone/eth0/ip6/fe80::1/tcp/9", "/dns/a.example/tcp/1/tls/sni/a.example/ws",
        }.Select(text => Multiaddr.Parse(text).ToBytes()),
    ];

    private static readonly string[] ProtocolPool =
        ["/ipfs/id/1.0.0", "/ipfs/id/push/1.0.0", "/ipfs/ping/1.0.0", "/meshsub/1.1.0", "/meshsub/1.2.0", "/echo/chat/1.0.0", ""];

    private static readonly Gen<ByteString> GenKey = Gen.Frequency(
        (6, Gen.Const(ByteString.CopyFrom(Own.PublicKey.ToProtobuf()))),
        (1, Gen.Const(ByteString.CopyFrom(Other.PublicKey.ToProtobuf()))),
        (1, Gen.Byte.Array[0, 80].Select(ByteString.CopyFrom)));

    private static readonly Gen<ByteString> GenAddress = Gen.Frequency(
        (8, Gen.Int[0, AddressPool.Length - 1].Select(i => ByteString.CopyFrom(AddressPool[i]))),
        (1, Gen.Byte.Array[0, 20].Select(ByteString.CopyFrom)));

    private static readonly Gen<string> GenProtocol = Gen.Frequency(
        (6, Gen.Int[0, ProtocolPool.Length - 1].Select(i => ProtocolPool[i])),
        (1, Gen.String[0, 40]));

    /// <summary>Valid identify messages as go, js and we send them, with an odd field now and then.</summary>
    private static readonly Gen<IdentifyMessage> GenValid =
        from key in GenKey.Null()
        from addresses in GenAddress.Array[0, 30]
        from protocols in GenProtocol.Array[0, 30]
        from agent in Gen.String[0, 40].Null()
        from protocolVersion in Gen.OneOf(Gen.Const("ipfs/0.1.0"), Gen.String[0, 10]).Null()
        from observed in GenAddress.Null()
        from record in Gen.Byte.Array[0, 200].Null()
        select Build(key, addresses, protocols, agent, protocolVersion, observed, record);

    private static IdentifyMessage Build(ByteString? key, ByteString[] addresses, string[] protocols, string? agent,
        string? protocolVersion, ByteString? observed, byte[]? record)
    {
        IdentifyMessage message = new();
        if (key is not null)
            message.PublicKey = key;
        message.ListenAddrs.AddRange(addresses);
        message.Protocols.AddRange(protocols);
        if (agent is not null)
            message.AgentVersion = agent;
        if (protocolVersion is not null)
            message.ProtocolVersion = protocolVersion;
        if (observed is not null)
            message.ObservedAddr = observed;
        if (record is not null)
            message.SignedPeerRecord = ByteString.CopyFrom(record);
        return message;
    }

    private static readonly byte[] Interesting = [0x00, 0x01, 0x02, 0x07, 0x08, 0x0a, 0x0c, 0x0f, 0x7f, 0x80, 0xff];

    /// <summary>One edit of a valid encoding: bit flip, odd byte, insertion, deletion, cut, repeated slice, huge varint.</summary>
    private static byte[] Mutate(byte[] bytes, int kind, int where, byte value, int size)
    {
        int at = bytes.Length == 0 ? 0 : (int)((uint)where % (uint)bytes.Length);
        List<byte> list = [.. bytes];
        switch (kind)
        {
            case 0 when bytes.Length > 0:
                list[at] ^= (byte)(1 << (value & 7));
                break;
            case 1 when bytes.Length > 0:
                list[at] = Interesting[value % Interesting.Length];
                break;
            case 2:
                list.InsertRange(at, Enumerable.Repeat(value, 1 + size % 4));
                break;
            case 3 when bytes.Length > 0:
                list.RemoveRange(at, Math.Min(1 + size % 4, bytes.Length - at));
                break;
            case 4:
                list.RemoveRange(at, bytes.Length - at);
                break;
            case 5 when bytes.Length > 0:
                list.InsertRange(at, bytes.Skip(size % bytes.Length).Take(1 + size % 64));
                break;
            case 6:
                list.InsertRange(at, [0xff, 0xff, 0xff, 0xff, 0x07]);   // a 2 GiB length, wherever a length was due
                break;
        }
        return [.. list];
    }

    private static readonly Gen<byte[]> GenMutated =
        from valid in GenValid
        from edits in Gen.Select(Gen.Int[0, 6], Gen.Int, Gen.Byte, Gen.Int[0, 1000]).Array[1, 4]
        select edits.Aggregate(valid.ToByteArray(), (bytes, e) => Mutate(bytes, e.Item1, e.Item2, e.Item3, e.Item4));

    /// <summary>Random fields behind identify's real tags (and some others), so random input gets past the first tag.</summary>
    private static readonly Gen<byte[]> GenStructuredRandom =
        Gen.Select(Gen.OneOf(Gen.Const<byte>(0x0a), Gen.Const<byte>(0x12), Gen.Const<byte>(0x1a), Gen.Const<byte>(0x22),
                    Gen.Const<byte>(0x2a), Gen.Const<byte>(0x32), Gen.Const<byte>(0x42), Gen.Byte),
                Gen.Byte.Array[0, 24])
            .Select((tag, body) => (byte[])[tag, (byte)body.Length, .. body])
            .Array[0, 400]
            .Select(fields => fields.SelectMany(f => f).Take(IdentifyLimits.MaxMessageLength).ToArray());

    private static readonly Gen<byte[]> GenRandom = Gen.Frequency(
        (3, Gen.Byte.Array[0, 64]),
        (1, Gen.Byte.Array[0, IdentifyLimits.MaxMessageLength + 16]),
        (3, GenStructuredRandom));

    /// <summary>Decodes one message (as a push when <paramref name="push"/>); returns whether it was accepted.</summary>
    private static bool Check(byte[] input, bool push, Stats stats)
    {
        long started = Stopwatch.GetTimestamp();
        long before = GC.GetAllocatedBytesForCurrentThread();
        IdentifyInfo? info;
        try
        {
            IdentifyMessage merged = new();
            IdentifyProtocol.MergeMessage(merged, input);
            info = IdentifyProtocol.ToInfo(Own.PeerId, merged, push ? Previous : null);
        }
        catch (ProtocolViolationException)
        {
            info = null;
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        stats.Add(Stopwatch.GetElapsedTime(started), allocated, input.Length);
        Assert.True(allocated <= MaxAllocated(input.Length), $"{allocated} bytes allocated for {input.Length} input bytes");
        if (info is null)
            return false;
        Assert.Equal(Own.PeerId, info.Peer);
        Assert.InRange(info.ListenAddresses.Count, 0, IdentifyLimits.MaxStoredAddresses);
        Assert.Equal(info.ListenAddresses.Count, info.ListenAddresses.Distinct().Count());
        Assert.InRange(info.Protocols.Count, 0, IdentifyLimits.MaxStoredProtocols);
        Assert.All(info.Protocols, p => Assert.InRange(p.Length, 1, IdentifyLimits.MaxProtocolIdLength));
        Assert.Equal(info.Protocols.Count, info.Protocols.Distinct(StringComparer.Ordinal).Count());
        Assert.InRange(info.AgentVersion?.Length ?? 0, 0, 256);
        Assert.InRange(info.ProtocolVersion?.Length ?? 0, 0, 256);
        return true;
    }

    /// <summary>Per-thread figures gathered by the samples: CsCheck runs the checks on several threads.</summary>
    private sealed class Stats
    {
        private readonly Lock _gate = new();
        private readonly List<double> _microseconds = [];
        private double _worstRatio;

        public void Add(TimeSpan elapsed, long allocated, int length)
        {
            lock (_gate)
            {
                _microseconds.Add(elapsed.TotalMicroseconds);
                if (length > 0)
                    _worstRatio = Math.Max(_worstRatio, (allocated - 4096.0) / length);
            }
        }

        public string Summary()
        {
            lock (_gate)
            {
                _microseconds.Sort();
                double p99 = _microseconds[(int)(_microseconds.Count * 0.99)];
                double max = _microseconds[^1];
                return $"{_microseconds.Count} decodes: p99 {p99:F0} µs, max {max:F0} µs; worst (allocated - 4 KiB) / length {_worstRatio:F1}";
            }
        }
    }

    [Fact(Timeout = 60_000)]
    public void Decode_RandomInput_OnlyProtocolViolationsOrInfoWithinLimits()
    {
        Stats stats = new();
        int accepted = 0;
        Gen.Select(GenRandom, Gen.Bool).Sample((input, push) =>
        {
            if (Check(input, push, stats))
                Interlocked.Increment(ref accepted);
        }, iter: Iterations);
        TestContext.Current.TestOutputHelper?.WriteLine(stats.Summary() + $", {accepted} accepted");
        Assert.InRange(accepted, 1, Iterations - 1);
    }

    [Fact(Timeout = 60_000)]
    public void Decode_MutatedValidInput_OnlyProtocolViolationsOrInfoWithinLimits()
    {
        Stats stats = new();
        int accepted = 0;
        Gen.Select(GenMutated, Gen.Bool).Sample((input, push) =>
        {
            if (Check(input, push, stats))
                Interlocked.Increment(ref accepted);
        }, iter: Iterations);
        TestContext.Current.TestOutputHelper?.WriteLine(stats.Summary() + $", {accepted} accepted");
        Assert.InRange(accepted, Iterations / 20, Iterations * 19 / 20);     // both outcomes well exercised
    }

    [Fact(Timeout = 60_000)]
    public void Decode_ValidInput_KeepsWhatWasSent()
    {
        GenValid.Sample(message =>
        {
            IdentifyMessage merged = new();
            IdentifyProtocol.MergeMessage(merged, message.ToByteArray());
            IdentifyInfo info;
            try
            {
                info = IdentifyProtocol.ToInfo(Own.PeerId, merged, previous: null);
            }
            catch (ProtocolViolationException)
            {
                Assert.True(message.HasPublicKey && !message.PublicKey.Span.SequenceEqual(Own.PublicKey.ToProtobuf()));
                return;
            }
            Assert.Equal(message.Protocols.Where(p => p.Length > 0).Distinct(), info.Protocols);
            Assert.Equal(message.ListenAddrs.Where(a => Multiaddr.TryFromBytes(a.Span, out _, out _))
                .Select(a => Multiaddr.FromBytes(a.Span)).Distinct(), info.ListenAddresses);
            Assert.Equal(message.HasAgentVersion ? message.AgentVersion : null, info.AgentVersion);
        }, iter: 10_000);
    }

    /// <summary>Hand-made worst cases for the allocation bound: the densest inputs in objects per byte.</summary>
    [Theory(Timeout = 60_000)]
    [InlineData("1200")]            // empty listen address
    [InlineData("120106")]          // one-byte listen address that does not parse
    [InlineData("1a00")]            // empty protocol
    [InlineData("1a0141")]          // one-letter protocol
    [InlineData("7b7c")]            // empty group in an unknown field
    [InlineData("7a0100")]          // unknown length-delimited field
    [InlineData("7800")]            // unknown varint field
    [InlineData("12050401020304")]  // the same valid ip4 address: each copy is decoded, then dropped as a duplicate
    [InlineData("1202dd03")]        // the same valid /ws, the shortest address that parses
    [InlineData("120306ffff")]      // the same valid /tcp/65535
    public void Decode_DensestInputs_AllocationStaysWithinTheBound(string unitHex)
    {
        byte[] unit = Convert.FromHexString(unitHex);
        byte[] input = [.. Enumerable.Repeat(unit, IdentifyLimits.MaxMessageLength / unit.Length).SelectMany(u => u)];
        Stats stats = new();
        for (int round = 0; round < 3; round++)      // the first round pays for JIT and static state
            Check(input, push: round == 1, stats);
        TestContext.Current.TestOutputHelper?.WriteLine($"{unitHex}: {stats.Summary()}");
    }

    [Fact(Timeout = 60_000)]
    public void Decode_NestedGroups_RejectedOrBounded()
    {
        // Deeply nested groups: protobuf's recursion limit (100) refuses them.
        byte[] input = [.. Enumerable.Repeat((byte)0x7b, 4000), .. Enumerable.Repeat((byte)0x7c, 4000)];
        Stats stats = new();
        Assert.False(Check(input, push: false, stats));
    }

    [Fact(Timeout = 60_000)]
    public void Merge_TenFullMessagesOfTinyEntries_RepeatedFieldsStayCut()
    {
        // The most entries ten 8 KiB messages can carry, two bytes each: addresses, then protocols.
        byte[] addresses = [.. Enumerable.Repeat((byte[])[0x12, 0x00], IdentifyLimits.MaxMessageLength / 2).SelectMany(u => u)];
        byte[] protocols = [.. Enumerable.Range(0, IdentifyLimits.MaxMessageLength / 7).SelectMany(i => (byte[])[0x1a, 0x05, .. System.Text.Encoding.ASCII.GetBytes($"/{i:x4}")])];
        IdentifyMessage merged = new();
        for (int i = 0; i < IdentifyLimits.MaxMessages; i++)
        {
            IdentifyProtocol.MergeMessage(merged, i % 2 == 0 ? addresses : protocols);
            Assert.InRange(merged.ListenAddrs.Count, 0, 2 * IdentifyLimits.MaxStoredAddresses);
            Assert.InRange(merged.Protocols.Count, 0, 2 * IdentifyLimits.MaxStoredProtocols);
        }
        IdentifyInfo info = IdentifyProtocol.ToInfo(Own.PeerId, merged, previous: null);
        Assert.Empty(info.ListenAddresses);
        Assert.Equal(IdentifyLimits.MaxStoredProtocols, info.Protocols.Count);
    }

    [Fact(Timeout = 60_000)]
    public void Merge_OverMaxMessageLength_RefusedBeforeParsing()
    {
        byte[] input = new IdentifyMessage { SignedPeerRecord = ByteString.CopyFrom(new byte[IdentifyLimits.MaxMessageLength]) }.ToByteArray();
        Assert.Throws<OversizedMessageException>(() => IdentifyProtocol.MergeMessage(new IdentifyMessage(), input));
    }
}
