using System.Net;
using Echo.Net.Framing;
using Echo.Net.Host;
using Echo.Net.Identify;
using Echo.Net.Multiformats;
using Echo.Net.Perf;
using Echo.Net.Transport.Tcp;

namespace Echo.Net.Tests.Identify;

/// <summary>Observed addresses on loopback: the threshold, the observer grouping, identify push on change.</summary>
public class ObservedAddressHostTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Task<T> Bounded<T>(Task<T> task) => task.WaitAsync(TimeSpan.FromSeconds(30), Ct);

    /// <summary>Loopback counts as public here, so observations on 127.0.0.1 are considered at all.</summary>
    private static HostOptions LoopbackIsPublic(int threshold) => new()
    {
        PublicRanges = [IPNetwork.Parse("127.0.0.0/8")],
        ObservedAddressThreshold = threshold,
    };

    [Fact(Timeout = 60_000)]
    public async Task OneObserver_WithThresholdOne_OurListenAddressIsTrusted()
    {
        Assert.SkipUnless(TcpTransport.PortReuseSupported, "the observed port is the listen port only with port reuse");
        await using Libp2pHost a = await TestHosts.StartAsync(LoopbackIsPublic(threshold: 1));
        await using Libp2pHost b = await TestHosts.StartAsync();
        Task<IdentifyInfo> identified = TestHosts.Identified(a, b.PeerId);

        await Bounded(a.DialAsync(TestHosts.AddressOf(b), Ct));
        await Bounded(identified);

        // b saw a dial from a's listening port: what it reports is a's listen address.
        Assert.Equal([a.ListenAddresses[0]], a.ObservedAddresses);
    }

    [Fact(Timeout = 60_000)]
    public async Task TwoPeersOnOneAddress_AreOneObserver()
    {
        await using Libp2pHost a = await TestHosts.StartAsync(LoopbackIsPublic(threshold: 2));
        await using Libp2pHost b = await TestHosts.StartAsync();
        await using Libp2pHost c = await TestHosts.StartAsync();
        Task<IdentifyInfo> identifiedB = TestHosts.Identified(a, b.PeerId);
        Task<IdentifyInfo> identifiedC = TestHosts.Identified(a, c.PeerId);

        await Bounded(a.DialAsync(TestHosts.AddressOf(b), Ct));
        await Bounded(a.DialAsync(TestHosts.AddressOf(c), Ct));
        await Bounded(identifiedB);
        await Bounded(identifiedC);

        Assert.Empty(a.ObservedAddresses);        // two peer ids, one observer: 127.0.0.1
    }

    [Fact(Timeout = 60_000)]
    public async Task PrivateOrLoopbackObservations_AreIgnoredByDefault()
    {
        await using Libp2pHost a = await TestHosts.StartAsync(new HostOptions { ObservedAddressThreshold = 1 });
        await using Libp2pHost b = await TestHosts.StartAsync();
        Task<IdentifyInfo> identified = TestHosts.Identified(a, b.PeerId);

        await Bounded(a.DialAsync(TestHosts.AddressOf(b), Ct));
        Assert.NotNull((await Bounded(identified)).ObservedAddress);

        Assert.Empty(a.ObservedAddresses);
    }

    [Fact(Timeout = 60_000)]
    public async Task ATrustedObservation_IsAdvertisedAndPushed_AndDroppedWhenItsObserverLeaves()
    {
        Assert.SkipUnless(TcpTransport.PortReuseSupported, "the observed port is the listen port only with port reuse");
        await using Libp2pHost a = await TestHosts.StartAsync(LoopbackIsPublic(threshold: 1));
        await using Libp2pHost c = await TestHosts.StartAsync();
        Libp2pHost b = await TestHosts.StartAsync();
        try
        {
            // b plays a peer behind which a looks like 127.0.0.9 (as a NAT's WAN address would), with the port b saw.
            b.SetStreamHandler(IdentifyProtocol.ProtocolId, async (stream, cancellationToken) =>
            {
                Assert.True(stream.Connection.RemoteAddress.TryGetTcpEndPoint(out IPEndPoint? seen));
                Multiaddr observed = Multiaddr.FromTcpEndPoint(new IPEndPoint(IPAddress.Parse("127.0.0.9"), seen!.Port));
                await stream.Output.WriteLengthPrefixedAsync(b.Identify.BuildMessage(observed), cancellationToken);
                await stream.CompleteOutputAsync();
            });
            Task<IdentifyInfo> cKnowsA = TestHosts.Identified(c, a.PeerId);
            await Bounded(c.DialAsync(TestHosts.AddressOf(a), Ct));
            await Bounded(cKnowsA);
            Multiaddr expected = Multiaddr.Parse($"/ip4/127.0.0.9/tcp/{a.ListenAddresses[0].Components[1].ValueText}");
            TaskCompletionSource<IReadOnlyList<Multiaddr>> added = new(TaskCreationOptions.RunContinuationsAsynchronously);
            a.AddressesChanged += addresses =>
            {
                if (addresses.Contains(expected))
                    added.TrySetResult(addresses);
            };

            await Bounded(a.DialAsync(TestHosts.AddressOf(b), Ct));

            IReadOnlyList<Multiaddr> advertised = await Bounded(added.Task);
            Assert.Contains(expected, a.ObservedAddresses);      // beside 127.0.0.1 (what c sees), also "public" here
            Assert.Equal(a.AdvertisedAddresses, advertised);
            // c, connected before, learns it by identify push.
            await TestHosts.WaitUntilAsync(() => c.PeerStore.Get(a.PeerId)?.ListenAddresses.Contains(expected) == true,
                "c has a's new address");

            TaskCompletionSource<IReadOnlyList<Multiaddr>> removed = new(TaskCreationOptions.RunContinuationsAsynchronously);
            a.AddressesChanged += addresses =>
            {
                if (!addresses.Contains(expected))
                    removed.TrySetResult(addresses);
            };
            await b.DisposeAsync();
            await Bounded(removed.Task);
            Assert.DoesNotContain(expected, a.ObservedAddresses);
            await TestHosts.WaitUntilAsync(() => c.PeerStore.Get(a.PeerId)?.ListenAddresses.Contains(expected) == false,
                "c has dropped a's old address");
        }
        finally
        {
            await b.DisposeAsync();
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task Identify_ListsExactlyTheProtocolsWeServe()
    {
        await using Libp2pHost a = await TestHosts.StartAsync();
        await using Libp2pHost b = await TestHosts.StartAsync();
        Task<IdentifyInfo> identified = TestHosts.Identified(b, a.PeerId);

        await Bounded(b.DialAsync(TestHosts.AddressOf(a), Ct));

        IdentifyInfo info = await Bounded(identified);
        Assert.Equal(a.Protocols, info.Protocols);
        Assert.DoesNotContain(PerfProtocol.ProtocolId, info.Protocols);        // perf is off by default
        a.RemoveStreamHandler(TestHosts.EchoProtocol);
        await TestHosts.WaitUntilAsync(() => b.PeerStore.Get(a.PeerId)?.Supports(TestHosts.EchoProtocol) == false,
            "b learns a stopped serving the echo protocol");
        Assert.Equal(a.Protocols, b.PeerStore.Get(a.PeerId)!.Protocols);
    }
}
