using Echo.Net.Framing;
using Echo.Net.Host;
using Echo.Net.Identify;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Net.Yamux;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using IdentifyMessage = Echo.Net.Identify.Pb.Identify;

namespace Echo.Net.Tests.Identify;

/// <summary>
/// Hosts on 127.0.0.1:0 for bad-peer tests. A bad peer is an ordinary host whose handler for a
/// protocol is replaced by a hostile one, or that writes hand-made bytes on a stream it opens.
/// </summary>
internal static class BadPeerKit
{
    // Event ids of the logs the tests wait for.
    public const int Identified = 1700;
    public const int IdentifyFailed = 1701;
    public const int PushReceived = 1702;
    public const int InboundStreamRejected = 1506;

    public static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static Task<T> Bounded<T>(Task<T> task) => task.WaitAsync(TimeSpan.FromSeconds(30), Ct);

    public static Task Bounded(Task task) => task.WaitAsync(TimeSpan.FromSeconds(30), Ct);

    public static Task Bounded(ValueTask task) => Bounded(task.AsTask());

    /// <summary>A started host that also serves <see cref="TestHosts.EchoProtocol"/>.</summary>
    public static async Task<Libp2pHost> StartAsync(ILoggerFactory? loggers = null, TimeProvider? time = null, HostOptions? options = null)
    {
        options ??= new HostOptions();
        if (options.ListenAddresses.Count == 0)
            options = options with { ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")] };
        Libp2pHost host = new(KeyPair.Generate(), options, loggers ?? NullLoggerFactory.Instance, time);
        host.SetStreamHandler(TestHosts.EchoProtocol, TestHosts.EchoAsync);
        await host.StartAsync(Ct);
        return host;
    }

    /// <summary>
    /// <paramref name="honest"/> dials <paramref name="peer"/> and waits until its identify of the
    /// peer has ended; returns the connection and the log entry saying how it ended.
    /// </summary>
    public static async Task<(Connection Connection, RecordingLoggerFactory.Entry Outcome)> ConnectAsync(Libp2pHost honest,
        RecordingLoggerFactory honestLog, Libp2pHost peer)
    {
        Task<RecordingLoggerFactory.Entry> outcome = honestLog.WaitForAsync(e => e.EventId is Identified or IdentifyFailed && e.IsAbout(peer.PeerId));
        Connection connection = await Bounded(honest.DialAsync(TestHosts.AddressOf(peer), Ct));
        return (connection, await outcome);
    }

    /// <summary>The connection is the one we had, still open, and carries an echo round trip.</summary>
    public static async Task AssertStillConnectedAsync(Libp2pHost honest, PeerId peer, Connection connection)
    {
        Assert.Same(connection, honest.GetConnection(peer));
        await EchoRoundTripAsync(honest, peer, 1000);
        Assert.False(connection.IsClosed);
    }

    public static async Task EchoRoundTripAsync(Libp2pHost from, PeerId to, int length)
    {
        byte[] data = System.Security.Cryptography.RandomNumberGenerator.GetBytes(length);
        P2PStream stream = await Bounded(from.OpenStreamAsync(to, TestHosts.EchoProtocol, Ct));
        (byte[] hash, long received) = await Bounded(TestHosts.EchoRoundTripAsync(stream, data, Ct));
        Assert.Equal(length, received);
        Assert.Equal(System.Security.Cryptography.SHA256.HashData(data), hash);
    }

    /// <summary>An identify handler that writes <paramref name="raw"/> as is (length prefixes included), then half-closes.</summary>
    public static StreamHandler RawAnswer(byte[] raw) => async (stream, cancellationToken) =>
    {
        await stream.Output.WriteAsync(raw, cancellationToken);
        await stream.CompleteOutputAsync();
    };

    /// <summary>An identify handler that writes each message with its length prefix, then half-closes.</summary>
    public static StreamHandler Answer(IReadOnlyList<byte[]> messages) => RawAnswer(Frame(messages));

    /// <summary>Each message behind its unsigned-varint length.</summary>
    public static byte[] Frame(params IReadOnlyList<byte[]> messages)
    {
        using MemoryStream buffer = new();
        foreach (byte[] message in messages)
        {
            buffer.Write(Varint.Encode((ulong)message.Length));
            buffer.Write(message);
        }
        return buffer.ToArray();
    }

    /// <summary>What <paramref name="host"/> itself would answer, as a message to tamper with.</summary>
    public static IdentifyMessage OwnMessage(Libp2pHost host) =>
        IdentifyMessage.Parser.ParseFrom(host.Identify.BuildMessage(Multiaddr.Parse("/ip4/127.0.0.1/tcp/4001")));

    /// <summary>
    /// Splits <paramref name="head"/> followed by <paramref name="addresses"/> and <paramref name="protocols"/>
    /// (in that order) into as few messages of at most <paramref name="maxLength"/> bytes as it takes.
    /// </summary>
    public static List<byte[]> Pack(IdentifyMessage head, IEnumerable<ByteString> addresses, IEnumerable<string> protocols,
        int maxLength = IdentifyLimits.MaxMessageLength)
    {
        List<byte[]> messages = [];
        IdentifyMessage current = head.Clone();
        int size = current.CalculateSize();
        foreach (ByteString address in addresses)
        {
            int entry = 1 + CodedOutputStream.ComputeBytesSize(address);
            if (size + entry > maxLength)
            {
                messages.Add(current.ToByteArray());
                current = new IdentifyMessage();
                size = 0;
            }
            current.ListenAddrs.Add(address);
            size += entry;
        }
        foreach (string protocol in protocols)
        {
            int entry = 1 + CodedOutputStream.ComputeStringSize(protocol);
            if (size + entry > maxLength)
            {
                messages.Add(current.ToByteArray());
                current = new IdentifyMessage();
                size = 0;
            }
            current.Protocols.Add(protocol);
            size += entry;
        }
        messages.Add(current.ToByteArray());
        Assert.All(messages, m => Assert.InRange(m.Length, 0, maxLength));
        return messages;
    }

    /// <summary>Pads <paramref name="message"/> (in its signed-record field, which we ignore) to exactly <paramref name="length"/> bytes.</summary>
    public static byte[] PadTo(IdentifyMessage message, int length)
    {
        IdentifyMessage padded = message.Clone();
        for (int fill = Math.Max(0, length - message.CalculateSize() - 4); fill <= length; fill++)
        {
            padded.SignedPeerRecord = ByteString.CopyFrom(new byte[fill]);
            int size = padded.CalculateSize();
            if (size == length)
                return padded.ToByteArray();
            Assert.True(size < length, "cannot pad to that length");
        }
        throw new InvalidOperationException("unreachable");
    }

    /// <summary>10,000 distinct /ip4 addresses (5 bytes each, so that 10,000 fit in 9 messages of 8 KiB).</summary>
    public static Multiaddr[] ManyAddresses(int count) =>
        [.. Enumerable.Range(0, count).Select(i => Multiaddr.Parse($"/ip4/10.{i >> 16}.{(i >> 8) & 255}.{i & 255}"))];

    /// <summary>Distinct short protocol ids ("/0000" ...), 7 bytes each on the wire.</summary>
    public static string[] ManyProtocols(int count) => [.. Enumerable.Range(0, count).Select(i => $"/{i:x4}")];

    /// <summary>
    /// Opens a <paramref name="protocol"/> stream, writes <paramref name="raw"/> as is, half-closes and
    /// reads to the end: true when the remote half-closed too, false when it reset the stream.
    /// </summary>
    public static async Task<bool> SendRawAsync(Libp2pHost from, PeerId to, string protocol, byte[] raw)
    {
        P2PStream stream = await Bounded(from.OpenStreamAsync(to, protocol, Ct));
        try
        {
            await Bounded(stream.Output.WriteAsync(raw, Ct).AsTask());
            await Bounded(stream.CompleteOutputAsync());
        }
        catch (StreamResetException)
        {
            return false;       // reset before we were done writing
        }
        return await EndsCleanlyAsync(stream);
    }

    /// <summary>Reads the stream to its end; true when the remote half-closed cleanly, false when it reset the stream.</summary>
    public static async Task<bool> EndsCleanlyAsync(P2PStream stream)
    {
        try
        {
            while (true)
            {
                System.IO.Pipelines.ReadResult result = await stream.Input.ReadAsync(Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(30), Ct);
                stream.Input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                    return true;
            }
        }
        catch (StreamResetException)
        {
            return false;
        }
    }
}
