using System.IO.Pipelines;
using System.Text;
using Echo.Net.Framing;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Net.Pubsub;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using Wire = Echo.Net.Pubsub.Pb;

namespace Echo.Net.Tests.Pubsub;

/// <summary>A direct connection replacing a relayed one while the peer still writes on its old stream.</summary>
public class PubsubReplacedConnectionTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 30_000)]
    public async Task WhatThePeerWroteOnTheReplacedConnection_IsStillDelivered()
    {
        // During a hole punch the peer may publish on its stream over the relayed connection just as we
        // take the punched one for it: that stream is read to its end, not reset, so the message arrives.
        PubsubOptions options = PubsubNode.Fast with { RunOnLimited = _ => true };
        await using PubsubNode router = await PubsubNode.StartAsync(options);
        await using PubsubSubscription subscription = router.Router.Subscribe("t");
        foreach (string protocol in PubsubRouter.Protocols)
            router.Host.AllowOnLimitedConnections(protocol);
        using KeyPair key = KeyPair.Generate();
        await using Libp2pHost peer = new(key, new HostOptions { ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")] },
            NullLoggerFactory.Instance);
        peer.SetStreamHandler(PubsubRouter.MeshsubV11, DrainAsync);
        peer.AllowOnLimitedConnections(PubsubRouter.MeshsubV11);
        await peer.StartAsync(Ct);

        Connection relayed = await RelayedAsync(peer, router.Host);
        P2PStream old = await relayed.OpenStreamAsync([PubsubRouter.MeshsubV11], Ct).WaitAsync(TimeSpan.FromSeconds(10), Ct);
        await WriteAsync(old, new Wire.RPC { Subscriptions = { new Wire.RPC.Types.SubOpts { Subscribe = true, Topicid = "t" } } });
        await TestHosts.WaitUntilAsync(() => router.Router.TopicPeers("t").Contains(peer.PeerId) && router.Router.GetPeer(peer.PeerId) is { RpcsReceived: 1 },
            "the router has the peer in the topic over the relayed connection");

        // The direct connection takes over: the router's state for the peer starts again (nothing received on it yet).
        await peer.DialAsync(router.Address, Ct).WaitAsync(TimeSpan.FromSeconds(10), Ct);
        await TestHosts.WaitUntilAsync(() => router.Router.GetPeer(peer.PeerId) is { RpcsReceived: 0, HasOutbound: true },
            "the router took the direct connection for the peer");
        Assert.False(relayed.IsClosed);

        Wire.Message message = PubsubMessage.Sign(key, "t", Encoding.UTF8.GetBytes("sent as the punch finished"), 1, includeKey: false).ToPb();
        await WriteAsync(old, new Wire.RPC { Publish = { message } });
        PubsubMessage delivered = await PubsubWait.NextAsync(subscription, TimeSpan.FromSeconds(10));
        Assert.Equal("sent as the punch finished", Encoding.UTF8.GetString(delivered.Data.Span));
        Assert.Equal(peer.PeerId, delivered.From);
    }

    private static async Task WriteAsync(P2PStream stream, Wire.RPC rpc) =>
        await stream.Output.WriteLengthPrefixedAsync(rpc.ToByteArray(), Ct);

    private static async Task DrainAsync(P2PStream stream, CancellationToken cancellationToken)
    {
        while (await stream.Input.ReadLengthPrefixedAsync(PubsubRpcCodec.MaxRpcSize, stream.Protocol, cancellationToken) is not null)
        {
        }
    }

    /// <summary>A limited connection <paramref name="dialer"/> → <paramref name="listener"/> over in-memory pipes, as a relayed circuit.</summary>
    private static async Task<Connection> RelayedAsync(Libp2pHost dialer, Libp2pHost listener)
    {
        Pipe there = new(), back = new();
        Multiaddr circuit = Multiaddr.Parse($"/ip4/127.0.0.1/tcp/4001/p2p/{KeyPair.Generate().PeerId}/p2p-circuit");
        PipeRawConnection atDialer = new(new DuplexPipe(back.Reader, there.Writer), circuit, circuit);
        PipeRawConnection atListener = new(new DuplexPipe(there.Reader, back.Writer), circuit, circuit);
        ConnectionLimit limit = new(TimeSpan.FromMinutes(2), 128 * 1024);
        Task<Connection> outbound = dialer.AddConnectionAsync(atDialer, ConnectionRole.Initiator, ConnectionDirection.Outbound, listener.PeerId, limit, Ct);
        Task<Connection> inbound = listener.AddConnectionAsync(atListener, ConnectionRole.Responder, ConnectionDirection.Inbound, dialer.PeerId, limit, Ct);
        Connection[] both = await Task.WhenAll(outbound, inbound).WaitAsync(TimeSpan.FromSeconds(10), Ct);
        return both[0];
    }
}
