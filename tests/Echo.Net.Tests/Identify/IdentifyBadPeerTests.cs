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
/// Rule I-1 of docs/LIMITS.md for the answer to our identify request: the honest host dials a bad peer
/// whose /ipfs/id/1.0.0 handler answers with hand-made bytes. A rejected answer stores nothing and
/// costs only the identify stream; an oversized list is stored truncated.
/// </summary>
public class IdentifyBadPeerTests
{
    private sealed class Pair(Libp2pHost honest, RecordingLoggerFactory log, Libp2pHost bad) : IAsyncDisposable
    {
        public Libp2pHost Honest { get; } = honest;
        public RecordingLoggerFactory Log { get; } = log;
        public Libp2pHost Bad { get; } = bad;

        public async ValueTask DisposeAsync()
        {
            await Bad.DisposeAsync();
            await Honest.DisposeAsync();
            // Whatever the bad peer sent, the honest host's handlers failed only with protocol errors.
            Assert.Empty(Log.Where(e => e.EventId == 1507));
        }
    }

    private static async Task<Pair> StartPairAsync()
    {
        RecordingLoggerFactory log = new();
        Libp2pHost honest = await StartAsync(log);
        Libp2pHost bad = await StartAsync();
        return new Pair(honest, log, bad);
    }

    private static async Task<(Connection Connection, RecordingLoggerFactory.Entry Outcome)> IdentifyBadAsync(Pair pair, StreamHandler answer)
    {
        pair.Bad.SetStreamHandler(IdentifyProtocol.ProtocolId, answer);   // replaces the honest handler
        return await ConnectAsync(pair.Honest, pair.Log, pair.Bad);
    }

    private static async Task AssertRejectedAsync(Pair pair, Connection connection, RecordingLoggerFactory.Entry outcome)
    {
        Assert.Equal(IdentifyFailed, outcome.EventId);
        Assert.Null(pair.Honest.PeerStore.Get(pair.Bad.PeerId));
        await AssertStillConnectedAsync(pair.Honest, pair.Bad.PeerId, connection);
        Assert.True(await Bounded(pair.Honest.PingAsync(pair.Bad.PeerId, Ct)) >= TimeSpan.Zero);
    }

    [Theory(Timeout = 60_000)]
    [InlineData(IdentifyLimits.MaxMessageLength, true)]
    [InlineData(IdentifyLimits.MaxMessageLength + 1, false)]
    public async Task Identify_AnswerLength_AcceptedUpTo8KiBRejectedAbove(int length, bool accepted)
    {
        await using Pair pair = await StartPairAsync();
        byte[] message = PadTo(OwnMessage(pair.Bad), length);

        (Connection connection, RecordingLoggerFactory.Entry outcome) = await IdentifyBadAsync(pair, Answer([message]));

        if (accepted)
        {
            Assert.Equal(Identified, outcome.EventId);
            Assert.Equal(pair.Bad.Protocols, pair.Honest.PeerStore.Get(pair.Bad.PeerId)!.Protocols);
            await AssertStillConnectedAsync(pair.Honest, pair.Bad.PeerId, connection);
        }
        else
        {
            Assert.Contains($"{length}-byte message exceeds the {IdentifyLimits.MaxMessageLength}-byte limit", outcome.Message);
            await AssertRejectedAsync(pair, connection, outcome);
        }
    }

    [Theory(Timeout = 60_000)]
    [InlineData(IdentifyLimits.MaxMessages, true)]
    [InlineData(IdentifyLimits.MaxMessages + 1, false)]
    public async Task Identify_MessageCount_AcceptedUpTo10RejectedAbove(int count, bool accepted)
    {
        await using Pair pair = await StartPairAsync();
        List<byte[]> messages = [OwnMessage(pair.Bad).ToByteArray()];
        for (int i = 1; i < count; i++)
            messages.Add(new IdentifyMessage { Protocols = { $"/extra/{i}" } }.ToByteArray());

        (Connection connection, RecordingLoggerFactory.Entry outcome) = await IdentifyBadAsync(pair, Answer(messages));

        if (accepted)
        {
            Assert.Equal(Identified, outcome.EventId);
            IdentifyInfo info = pair.Honest.PeerStore.Get(pair.Bad.PeerId)!;
            Assert.Equal([.. pair.Bad.Protocols, .. Enumerable.Range(1, count - 1).Select(i => $"/extra/{i}")], info.Protocols);
            await AssertStillConnectedAsync(pair.Honest, pair.Bad.PeerId, connection);
        }
        else
        {
            Assert.Contains($"more than {IdentifyLimits.MaxMessages} identify messages", outcome.Message);
            await AssertRejectedAsync(pair, connection, outcome);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task Identify_10000ListenAddresses_StoredTruncatedTo500AndTo64AfterDisconnect()
    {
        await using Pair pair = await StartPairAsync();
        Multiaddr[] addresses = ManyAddresses(10_000);
        IdentifyMessage head = OwnMessage(pair.Bad);
        head.ListenAddrs.Clear();
        List<byte[]> messages = Pack(head, addresses.Select(a => ByteString.CopyFrom(a.ToBytes())), []);
        Assert.InRange(messages.Count, 2, IdentifyLimits.MaxMessages);

        (Connection connection, RecordingLoggerFactory.Entry outcome) = await IdentifyBadAsync(pair, Answer(messages));

        Assert.Equal(Identified, outcome.EventId);
        IdentifyInfo info = pair.Honest.PeerStore.Get(pair.Bad.PeerId)!;
        Assert.Equal(addresses.Take(IdentifyLimits.MaxStoredAddresses), info.ListenAddresses);
        Assert.Equal(pair.Bad.Protocols, info.Protocols);
        await AssertStillConnectedAsync(pair.Honest, pair.Bad.PeerId, connection);

        Task<Connection> gone = TestHosts.NextDisconnected(pair.Honest, pair.Bad.PeerId);
        await pair.Bad.DisposeAsync();
        await Bounded(gone);
        IdentifyInfo after = pair.Honest.PeerStore.Get(pair.Bad.PeerId)!;
        Assert.Equal(addresses.Take(IdentifyLimits.MaxAddressesAfterDisconnect), after.ListenAddresses);
        Assert.Empty(after.Protocols);
    }

    [Fact(Timeout = 60_000)]
    public async Task Identify_10000Protocols_StoredTruncatedTo1024AndClearedAfterDisconnect()
    {
        await using Pair pair = await StartPairAsync();
        string[] protocols = ManyProtocols(10_000);
        List<byte[]> messages = Pack(OwnMessage(pair.Bad), [], protocols);
        Assert.InRange(messages.Count, 2, IdentifyLimits.MaxMessages);

        (Connection connection, RecordingLoggerFactory.Entry outcome) = await IdentifyBadAsync(pair, Answer(messages));

        Assert.Equal(Identified, outcome.EventId);
        IdentifyInfo info = pair.Honest.PeerStore.Get(pair.Bad.PeerId)!;
        Assert.Equal(pair.Bad.Protocols.Concat(protocols).Take(IdentifyLimits.MaxStoredProtocols), info.Protocols);
        Assert.Equal(pair.Bad.ListenAddresses, info.ListenAddresses);
        await AssertStillConnectedAsync(pair.Honest, pair.Bad.PeerId, connection);

        Task<Connection> gone = TestHosts.NextDisconnected(pair.Honest, pair.Bad.PeerId);
        await connection.CloseAsync();
        await Bounded(gone);
        IdentifyInfo after = pair.Honest.PeerStore.Get(pair.Bad.PeerId)!;
        Assert.Empty(after.Protocols);
        Assert.Equal(pair.Bad.ListenAddresses, after.ListenAddresses);
    }

    [Fact(Timeout = 60_000)]
    public async Task Identify_AnotherPeersKey_Rejected()
    {
        await using Pair pair = await StartPairAsync();
        using KeyPair other = KeyPair.Generate();
        IdentifyMessage message = OwnMessage(pair.Bad);
        message.PublicKey = ByteString.CopyFrom(other.PublicKey.ToProtobuf());

        (Connection connection, RecordingLoggerFactory.Entry outcome) = await IdentifyBadAsync(pair, Answer([message.ToByteArray()]));

        Assert.Contains($"identify carries the key of {other.PeerId}", outcome.Message);
        await AssertRejectedAsync(pair, connection, outcome);
    }

    [Theory(Timeout = 60_000)]
    [InlineData("", "closed without identifying")]                                  // half-closes at once
    [InlineData("020aff", "malformed identify message")]                            // publicKey field cut short
    [InlineData("010f", "malformed identify message")]                              // wire type 7
    [InlineData("010c", "malformed identify message")]                              // end-group that no group opened
    [InlineData("0c08ffffffffffffffffffff01", "malformed identify message")]        // 11-byte varint
    [InlineData("032a01ff", "malformed identify message")]                          // protocolVersion not UTF-8
    [InlineData("060a0408011220", "libp2p-key")]                                    // publicKey whose key bytes are cut short
    [InlineData("ffffffffffffffff7f", "exceeds")]                                   // length prefix 2^63-1
    [InlineData("ffffffffffffffffff01", "varint")]                                  // 10-byte length prefix
    [InlineData("0005280a", "stream ended in the middle of a message")]             // empty message, then a cut one
    public async Task Identify_MalformedAnswer_Rejected(string hex, string reason)
    {
        await using Pair pair = await StartPairAsync();

        (Connection connection, RecordingLoggerFactory.Entry outcome) = await IdentifyBadAsync(pair, RawAnswer(Convert.FromHexString(hex)));

        Assert.Contains(reason, outcome.Message);
        await AssertRejectedAsync(pair, connection, outcome);
    }

    [Fact(Timeout = 60_000)]
    public async Task Identify_UnparseableAddressesAmongGoodOnes_OnlyTheyAreDropped()
    {
        await using Pair pair = await StartPairAsync();
        Multiaddr first = Multiaddr.Parse("/ip4/1.2.3.4/tcp/4001");
        Multiaddr second = Multiaddr.Parse("/ip6/::1/tcp/4002");
        IdentifyMessage message = OwnMessage(pair.Bad);
        message.ListenAddrs.Clear();
        message.ListenAddrs.Add(ByteString.CopyFrom(first.ToBytes()));
        message.ListenAddrs.Add(ByteString.CopyFrom([0x04, 0x01, 0x02]));            // ip4 cut short
        message.ListenAddrs.Add(ByteString.Empty);
        message.ListenAddrs.Add(ByteString.CopyFrom([0xff, 0xff, 0x03, 0x00]));      // unknown protocol code
        message.ListenAddrs.Add(ByteString.CopyFrom(second.ToBytes()));
        message.ObservedAddr = ByteString.CopyFrom([0x06]);                          // tcp without its port

        (Connection connection, RecordingLoggerFactory.Entry outcome) = await IdentifyBadAsync(pair, Answer([message.ToByteArray()]));

        Assert.Equal(Identified, outcome.EventId);
        IdentifyInfo info = pair.Honest.PeerStore.Get(pair.Bad.PeerId)!;
        Assert.Equal([first, second], info.ListenAddresses);
        Assert.Null(info.ObservedAddress);
        Assert.Equal(pair.Bad.Protocols, info.Protocols);
        await AssertStillConnectedAsync(pair.Honest, pair.Bad.PeerId, connection);
    }

    [Fact(Timeout = 60_000)]
    public async Task Identify_PeerNeverAnswers_GivesUpAfter10SecondsOfTheHostClock()
    {
        ObservedFakeTime time = new();
        RecordingLoggerFactory log = new();
        await using Libp2pHost honest = await StartAsync(log, time);
        await using Libp2pHost bad = await StartAsync();
        TaskCompletionSource asked = new(TaskCreationOptions.RunContinuationsAsynchronously);
        bad.SetStreamHandler(IdentifyProtocol.ProtocolId, async (_, cancellationToken) =>
        {
            asked.TrySetResult();
            await Task.Delay(Timeout.InfiniteTimeSpan, cancellationToken);    // never answers; ends with the connection
        });

        Connection connection = await Bounded(honest.DialAsync(TestHosts.AddressOf(bad), Ct));
        await Bounded(asked.Task);                        // the identify timer started before the stream was opened
        await Bounded(connection.MuxerPingAsync(Ct));     // yamux's first keep-alive ping (10 s timeout, same clock) is answered

        time.Advance(IdentifyLimits.Timeout - TimeSpan.FromMilliseconds(1));
        await AssertStillConnectedAsync(honest, bad.PeerId, connection);
        Assert.Equal(0, log.Count(e => e.EventId == IdentifyFailed && e.IsAbout(bad.PeerId)));

        time.Advance(TimeSpan.FromMilliseconds(1));
        // Instant once the clock is advanced; a timer on the real clock would need 10 s.
        RecordingLoggerFactory.Entry failed = await log.WaitForAsync(e => e.EventId == IdentifyFailed && e.IsAbout(bad.PeerId),
            TimeSpan.FromSeconds(5));
        Assert.DoesNotContain("Identified", failed.Message);
        Assert.Null(honest.PeerStore.Get(bad.PeerId));
        await AssertStillConnectedAsync(honest, bad.PeerId, connection);
    }

    [Fact(Timeout = 60_000)]
    public async Task OwnAnswer_450ListenAddresses_StaysWithin4096BytesAndKeepsEveryProtocol()
    {
        const int listeners = 450;                        // 10 bytes each in identify: 4500 bytes would not fit
        HostOptions options = new() { ListenAddresses = [.. Enumerable.Repeat(Multiaddr.Parse("/ip4/127.0.0.1/tcp/0"), listeners)] };
        await using Libp2pHost many = await StartAsync(options: options);
        await using Libp2pHost asker = await StartAsync();
        Assert.Equal(listeners, many.ListenAddresses.Distinct().Count());
        await Bounded(asker.DialAsync(TestHosts.AddressOf(many), Ct));

        P2PStream stream = await Bounded(asker.OpenStreamAsync(many.PeerId, IdentifyProtocol.ProtocolId, Ct));
        await Bounded(stream.CompleteOutputAsync());
        List<byte[]> messages = [];
        while (await Bounded(stream.Input.ReadLengthPrefixedAsync(IdentifyLimits.MaxMessageLength, IdentifyProtocol.ProtocolId, Ct).AsTask())
               is { } bytes)
            messages.Add(bytes);

        byte[] message = Assert.Single(messages);
        Assert.InRange(message.Length, 1, IdentifyLimits.MaxOwnMessageLength);
        IdentifyMessage parsed = IdentifyMessage.Parser.ParseFrom(message);
        Assert.Equal(many.IdentityKey.PublicKey.ToProtobuf(), parsed.PublicKey.ToByteArray());
        Assert.Equal(many.Protocols, parsed.Protocols);
        Assert.InRange(parsed.ListenAddrs.Count, listeners / 2, listeners - 1);   // as many as fit
        Assert.All(parsed.ListenAddrs, a => Assert.Contains(Multiaddr.FromBytes(a.Span), many.ListenAddresses));
    }
}
