using System.IO.Pipelines;
using Echo.Net.Host;
using Echo.Net.Kad;
using Echo.Net.ResourceManager;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using KadPb = Echo.Net.Kad.Pb;

namespace Echo.Net.Tests.Kad;

/// <summary>L-kad-inbound with the defaults: 64 requests answered on one inbound stream, 16 kad streams from one peer at once.</summary>
public sealed class KadInboundLimitTests : IAsyncDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private readonly List<IAsyncDisposable> _owned = [];

    public async ValueTask DisposeAsync()
    {
        for (int i = _owned.Count - 1; i >= 0; i--)
            await _owned[i].DisposeAsync();
    }

    /// <summary>A DHT server with the default options (or <paramref name="options"/>), and a plain host connected to it with identify done both ways.</summary>
    private async Task<(Libp2pHost Server, Libp2pHost Client)> StartAsync(KadOptions? options = null)
    {
        Libp2pHost server = await TestHosts.StartAsync();
        KadDht dht = new(server, options ?? new KadOptions { ForcedMode = KadMode.Server }, NullLoggerFactory.Instance);
        dht.Start();
        Libp2pHost client = await TestHosts.StartAsync();
        _owned.AddRange([server, dht, client]);
        Task identified = TestHosts.Identified(client, server.PeerId);
        Task identifiedBack = TestHosts.Identified(server, client.PeerId);
        await client.DialAsync(TestHosts.AddressOf(server), Ct);
        await Task.WhenAll(identified, identifiedBack).WaitAsync(TimeSpan.FromSeconds(20), Ct);
        await TestHosts.WaitUntilAsync(() => server.ResourceSnapshot().InboundStreams == 0, "identify's streams ended");
        return (server, client);
    }

    private static KadPb.Message FindNode(Libp2pHost from) =>
        new() { Type = KadPb.Message.Types.MessageType.FindNode, Key = ByteString.CopyFrom(from.PeerId.ToBytes()) };

    [Fact(Timeout = 60_000)]
    public async Task OneStream_Gets64Answers_ThenTheServerClosesIt()
    {
        (Libp2pHost server, Libp2pHost client) = await StartAsync();
        P2PStream stream = await client.OpenStreamAsync(server.PeerId, KadDht.ProtocolId, Ct);

        for (int i = 0; i < 64; i++)
        {
            await KadCodec.WriteAsync(stream.Output, FindNode(client), Ct);
            KadPb.Message? answer = await KadCodec.ReadAsync(stream.Input, KadLimits.MaxMessageBytes, Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(10), Ct);
            Assert.True(answer is not null, $"request {i + 1} was not answered");
        }
        await KadCodec.WriteAsync(stream.Output, FindNode(client), Ct);
        Assert.Null(await KadCodec.ReadAsync(stream.Input, KadLimits.MaxMessageBytes, Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(10), Ct));
        stream.Reset();
    }

    [Fact(Timeout = 60_000)]
    public async Task SixteenStreamsFromOnePeer_AreServed_TheSeventeenthIsResetAndCounted()
    {
        (Libp2pHost server, Libp2pHost client) = await StartAsync();
        List<P2PStream> held = [];
        for (int i = 0; i < 16; i++)
            held.Add(await client.OpenStreamAsync(server.PeerId, KadDht.ProtocolId, Ct).WaitAsync(TimeSpan.FromSeconds(20), Ct));
        await TestHosts.WaitUntilAsync(() => server.ResourceSnapshot().InboundStreams == 16, "16 kad streams are served");

        await Assert.ThrowsAnyAsync<IOException>(async () =>
        {
            P2PStream extra = await client.OpenStreamAsync(server.PeerId, KadDht.ProtocolId, Ct).WaitAsync(TimeSpan.FromSeconds(20), Ct);
            ReadResult read = await extra.Input.ReadAsync(Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(20), Ct);
            Assert.Fail($"a 17th kad stream was served (completed: {read.IsCompleted})");
        });
        await TestHosts.WaitUntilAsync(() => server.ResourceSnapshot().Refused[LimitKind.StreamsPerProtocol] == 1, "the 17th stream is counted");

        // Each held stream is still served.
        await KadCodec.WriteAsync(held[15].Output, FindNode(client), Ct);
        Assert.NotNull(await KadCodec.ReadAsync(held[15].Input, KadLimits.MaxMessageBytes, Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(10), Ct));
        foreach (P2PStream stream in held)
            stream.Reset();
    }

    [Fact(Timeout = 60_000)]
    public async Task AStreamIdleForTheIdleWait_IsClosedByTheServer_AfterAnsweringWhatCameBefore()
    {
        Assert.Equal(TimeSpan.FromMinutes(1), new KadOptions().StreamIdleTimeout);
        // The default minute, shortened here: the server closes its side of a stream that brings no
        // request for that long, after serving the requests that came.
        (Libp2pHost server, Libp2pHost client) = await StartAsync(
            new KadOptions { ForcedMode = KadMode.Server, StreamIdleTimeout = TimeSpan.FromSeconds(2) });
        P2PStream stream = await client.OpenStreamAsync(server.PeerId, KadDht.ProtocolId, Ct);
        await KadCodec.WriteAsync(stream.Output, FindNode(client), Ct);
        Assert.NotNull(await KadCodec.ReadAsync(stream.Input, KadLimits.MaxMessageBytes, Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(10), Ct));

        Assert.Null(await KadCodec.ReadAsync(stream.Input, KadLimits.MaxMessageBytes, Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(20), Ct));
        stream.Reset();
    }
}
