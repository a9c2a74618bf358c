using System.Threading.Channels;
using Echo.Net.Framing;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Net.Pubsub;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using Wire = Echo.Net.Pubsub.Pb;

namespace Echo.Net.Tests.Pubsub;

/// <summary>A started host with a started pubsub router, on 127.0.0.1:0.</summary>
internal sealed class PubsubNode : IAsyncDisposable
{
    /// <summary>Fast heartbeats so real-time tests settle in well under a second.</summary>
    public static readonly PubsubOptions Fast = new()
    {
        HeartbeatInterval = TimeSpan.FromMilliseconds(50),
        HeartbeatInitialDelay = TimeSpan.FromMilliseconds(10),
    };

    private PubsubNode(Libp2pHost host, PubsubRouter router)
    {
        Host = host;
        Router = router;
    }

    public Libp2pHost Host { get; }

    public PubsubRouter Router { get; }

    public PeerId Id => Host.PeerId;

    public Multiaddr Address => TestHosts.AddressOf(Host);

    public static async Task<PubsubNode> StartAsync(PubsubOptions? options = null, TimeProvider? time = null, HostOptions? hostOptions = null,
        Microsoft.Extensions.Logging.ILoggerFactory? log = null)
    {
        Libp2pHost host = await TestHosts.StartAsync(hostOptions);
        log ??= Environment.GetEnvironmentVariable("ECHO_PUBSUB_TEST_LOG") is { Length: > 0 } path ? SharedLog(path) : null;
        PubsubRouter router = new(host, options ?? Fast, log ?? NullLoggerFactory.Instance, time);
        await router.StartAsync(TestContext.Current.CancellationToken);
        return new PubsubNode(host, router);
    }

    private static TestLog? _shared;

    /// <summary>With ECHO_PUBSUB_TEST_LOG=path, every router logs to one in-memory log written to path at exit.</summary>
    private static TestLog SharedLog(string path)
    {
        lock (typeof(PubsubNode))
        {
            if (_shared is null)
            {
                _shared = new TestLog();
                AppDomain.CurrentDomain.ProcessExit += (_, _) => File.WriteAllText(path, _shared.Dump());
            }
            return _shared;
        }
    }

    public async Task ConnectAsync(PubsubNode other) =>
        await Host.DialAsync(other.Address, TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken);

    public async ValueTask DisposeAsync()
    {
        await Router.DisposeAsync();
        await Host.DisposeAsync();
    }

    public override string ToString() => Id.ToShortString();
}

/// <summary>
/// A hand-driven pubsub peer: a plain host that opens a pubsub stream to a router and writes
/// hand-made RPCs on it, and records every RPC the router sends back (unless told not to read).
/// </summary>
internal sealed class BadPeer : IAsyncDisposable
{
    private readonly Channel<Wire.RPC> _received = Channel.CreateUnbounded<Wire.RPC>();
    private readonly List<Wire.RPC> _log = [];
    private readonly bool _read;
    private P2PStream? _stream;

    private BadPeer(Libp2pHost host, KeyPair key, bool read)
    {
        Host = host;
        Key = key;
        _read = read;
    }

    public Libp2pHost Host { get; }

    public KeyPair Key { get; }

    public PeerId Id => Host.PeerId;

    public P2PStream Stream => _stream ?? throw new InvalidOperationException("not connected");

    /// <summary>Starts a host serving <paramref name="protocol"/>, dials <paramref name="target"/> and opens a stream to it.</summary>
    /// <remarks>With <paramref name="dialedByTarget"/> the router's host dials us instead, so to the router we are an outbound peer.</remarks>
    public static async Task<BadPeer> ConnectAsync(PubsubNode target, string protocol = PubsubRouter.MeshsubV11, bool read = true,
        bool dialedByTarget = false)
    {
        KeyPair key = KeyPair.Generate();
        Libp2pHost host = new(key, new HostOptions { ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")] }, NullLoggerFactory.Instance);
        BadPeer peer = new(host, key, read);
        host.SetStreamHandler(protocol, peer.HandleAsync);
        await host.StartAsync(TestContext.Current.CancellationToken);
        if (dialedByTarget)
        {
            // The dial returns when the target's end is up; ours registers a moment later.
            Task<Connection> accepted = TestHosts.NextConnected(host, target.Id);
            await target.Host.DialAsync(TestHosts.AddressOf(host), TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken);
            await accepted.WaitAsync(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken);
        }
        else
            await host.DialAsync(target.Address, TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken);
        peer._stream = await peer.OpenStreamAsync(target, protocol);
        await TestHosts.WaitUntilAsync(() => target.Router.GetPeer(peer.Id) is { HasOutbound: true }, "the router opened its stream to the bad peer");
        return peer;
    }

    public async Task<P2PStream> OpenStreamAsync(PubsubNode target, string protocol = PubsubRouter.MeshsubV11) =>
        await Host.OpenStreamAsync(target.Id, protocol, TestContext.Current.CancellationToken)
            .WaitAsync(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken);

    private async Task HandleAsync(P2PStream stream, CancellationToken cancellationToken)
    {
        if (!_read)
        {
            // A peer that never reads: the router's writes pile up against yamux flow control.
            await Task.Delay(Timeout.Infinite, cancellationToken);
            return;
        }
        while (await stream.Input.ReadLengthPrefixedAsync(PubsubRpcCodec.MaxRpcSize, stream.Protocol, cancellationToken) is { } frame)
        {
            Wire.RPC rpc = Wire.RPC.Parser.ParseFrom(frame);
            lock (_log)
                _log.Add(rpc);
            _received.Writer.TryWrite(rpc);
        }
    }

    /// <summary>Every RPC received so far.</summary>
    public List<Wire.RPC> Received
    {
        get
        {
            lock (_log)
                return [.. _log];
        }
    }

    public Task SendAsync(Wire.RPC rpc, P2PStream? stream = null) => SendRawAsync(rpc.ToByteArray(), stream);

    public async Task SendRawAsync(byte[] frame, P2PStream? stream = null) =>
        await (stream ?? Stream).Output.WriteLengthPrefixedAsync(frame, TestContext.Current.CancellationToken);

    public Task SubscribeAsync(params string[] topics)
    {
        Wire.RPC rpc = new();
        foreach (string topic in topics)
            rpc.Subscriptions.Add(new Wire.RPC.Types.SubOpts { Subscribe = true, Topicid = topic });
        return SendAsync(rpc);
    }

    /// <summary>A valid message authored by <paramref name="author"/> (this peer by default).</summary>
    public Wire.Message Sign(string topic, string text, ulong seqno, KeyPair? author = null) =>
        PubsubMessage.Sign(author ?? Key, topic, System.Text.Encoding.UTF8.GetBytes(text), seqno, includeKey: false).ToPb();

    public static Wire.RPC Publish(params Wire.Message[] messages) => new() { Publish = { messages } };

    public static Wire.RPC Control(Wire.ControlMessage control) => new() { Control = control };

    public static ByteString Bytes(byte[] bytes) => ByteString.CopyFrom(bytes);

    public async ValueTask DisposeAsync()
    {
        // Leave as a crashed peer does, cutting the sockets: a graceful close would wait up to 1 s for the
        // router's host to answer our GoAway.
        foreach (Connection connection in Host.Connections)
            connection.AbortForTest();
        await Host.DisposeAsync();
        Key.Dispose();
    }
}

internal static class PubsubWait
{
    /// <summary>Waits until <paramref name="router"/> has handled <paramref name="count"/> RPCs from <paramref name="peer"/>.</summary>
    public static Task ProcessedAsync(PubsubRouter router, PeerId peer, long count) =>
        TestHosts.WaitUntilAsync(() => router.GetPeer(peer)?.RpcsReceived >= count, $"the router handled {count} RPCs from {peer.ToShortString()}",
            TimeSpan.FromSeconds(30));

    /// <summary>Reads the next message of a subscription within a bound.</summary>
    public static async Task<PubsubMessage> NextAsync(PubsubSubscription subscription, TimeSpan? timeout = null) =>
        await subscription.Messages.ReadAsync(TestContext.Current.CancellationToken).AsTask().WaitAsync(timeout ?? TimeSpan.FromSeconds(20),
            TestContext.Current.CancellationToken);

    /// <summary>Waits until both nodes see each other subscribed to <paramref name="topic"/>.</summary>
    public static Task TopicPeersAsync(PubsubNode node, string topic, int count) =>
        TestHosts.WaitUntilAsync(() => node.Router.TopicPeers(topic).Count >= count, $"{node} sees {count} peers on \"{topic}\"", TimeSpan.FromSeconds(30));
}
