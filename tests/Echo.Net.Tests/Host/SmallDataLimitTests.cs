using System.IO.Pipelines;
using Echo.Net.Host;
using Echo.Net.Identify;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.TestKit;

namespace Echo.Net.Tests.Host;

/// <summary>
/// A circuit with a small data limit (a js relay cutting every 4 KiB, both directions together): what
/// the host runs on every new connection costs as little as it can there, and a circuit with the
/// relays' default limit (128 KiB) keeps the full exchange. Circuits are in-memory pipes upgraded as
/// relayed connections; bytes are counted as the relay counts them.
/// </summary>
public sealed class SmallDataLimitTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string TextProtocol = "/test/text/1.0.0";
    private const string BulkProtocol = "/test/bulk/1.0.0";

    private static readonly ConnectionLimit Small = new(TimeSpan.FromMinutes(2), 4096);
    private static readonly ConnectionLimit Default = new(TimeSpan.FromMinutes(2), 128 * 1024);

    private static Task<T> Bounded<T>(Task<T> task) => task.WaitAsync(TimeSpan.FromSeconds(30), Ct);

    private static Task Bounded(Task task) => task.WaitAsync(TimeSpan.FromSeconds(30), Ct);

    /// <summary>Two hosts, each serving a protocol allowed on limited connections and one that is not.</summary>
    private static async Task<(Libp2pHost A, Libp2pHost B)> HostsAsync()
    {
        Libp2pHost a = await TestHosts.StartAsync();
        Libp2pHost b = await TestHosts.StartAsync();
        foreach (Libp2pHost host in new[] { a, b })
        {
            host.SetStreamHandler(TextProtocol, (_, _) => Task.CompletedTask, allowOnLimited: true);
            host.SetStreamHandler(BulkProtocol, (_, _) => Task.CompletedTask);
        }
        return (a, b);
    }

    /// <summary>A relayed circuit from <paramref name="a"/> to <paramref name="b"/> with <paramref name="limit"/>; a's end.</summary>
    private static async Task<Connection> CircuitAsync(Libp2pHost a, Libp2pHost b, ConnectionLimit limit)
    {
        Pipe aToB = new();
        Pipe bToA = new();
        Multiaddr circuit = Multiaddr.Parse($"/ip4/127.0.0.1/tcp/4001/p2p/{KeyPair.Generate().PeerId}/p2p-circuit");
        Task<Connection> atA = a.AddConnectionAsync(new PipeRawConnection(new DuplexPipe(bToA.Reader, aToB.Writer), circuit, circuit),
            ConnectionRole.Initiator, ConnectionDirection.Outbound, b.PeerId, limit, Ct);
        Task<Connection> atB = b.AddConnectionAsync(new PipeRawConnection(new DuplexPipe(aToB.Reader, bToA.Writer), circuit, circuit),
            ConnectionRole.Responder, ConnectionDirection.Inbound, a.PeerId, limit, Ct);
        Connection[] both = await Bounded(Task.WhenAll(atA, atB));
        return both[0];
    }

    /// <summary>The next identify of <paramref name="peer"/> that <paramref name="host"/> reports.</summary>
    private static Task<IdentifyInfo> NextIdentify(Libp2pHost host, PeerId peer)
    {
        TaskCompletionSource<IdentifyInfo> tcs = new(TaskCreationOptions.RunContinuationsAsynchronously);
        host.PeerIdentified += (c, info) =>
        {
            if (c.RemotePeer == peer)
                tcs.TrySetResult(info);
        };
        return tcs.Task;
    }

    private static long Used(Connection connection) => connection.Limit!.DataBytes!.Value - connection.DataRemaining!.Value;

    /// <summary>
    /// Waits until no stream is open at either end of the circuit (each exchange ended both ways), then
    /// gives what it has carried, both directions together.
    /// </summary>
    private static async Task<long> SettledAsync(Libp2pHost a, Libp2pHost b)
    {
        Connection atA = a.GetConnection(b.PeerId)!;
        Connection atB = b.GetConnection(a.PeerId)!;
        await TestHosts.WaitUntilAsync(() => atA.StreamCount == 0 && atB.StreamCount == 0, "no stream open on the circuit");
        return Used(atA);
    }

    [Fact(Timeout = 60_000)]
    public async Task OnASmallDataLimit_IdentifyListsOnlyTheUsableProtocols_AndTheNextCircuitDoesNotAskAgain()
    {
        (Libp2pHost a, Libp2pHost b) = await HostsAsync();
        await using Libp2pHost ownA = a;
        await using Libp2pHost ownB = b;

        Task<IdentifyInfo> first = NextIdentify(a, b.PeerId);
        Task<IdentifyInfo> firstAtB = NextIdentify(b, a.PeerId);
        Connection circuit = await CircuitAsync(a, b, Small);
        Assert.True(circuit.HasSmallDataLimit);
        IdentifyInfo info = await Bounded(first);
        await Bounded(firstAtB);
        Assert.Contains(TextProtocol, info.Protocols);
        Assert.Contains(IdentifyProtocol.ProtocolId, info.Protocols);
        Assert.DoesNotContain(BulkProtocol, info.Protocols);   // no stream of it could open here
        long firstCost = await SettledAsync(a, b);

        // The relay cuts it; the next circuit is identified with what b said on the first one, no stream asked.
        await circuit.DisposeAsync();
        await TestHosts.WaitUntilAsync(() => a.GetConnection(b.PeerId) is null && b.GetConnection(a.PeerId) is null, "both saw the cut");
        Task<IdentifyInfo> again = NextIdentify(a, b.PeerId);
        Task<IdentifyInfo> againAtB = NextIdentify(b, a.PeerId);
        Connection next = await CircuitAsync(a, b, Small);
        Assert.Equal(info.Protocols, (await Bounded(again)).Protocols);
        await Bounded(againAtB);
        long nextCost = await SettledAsync(a, b);
        // Two identify answers (each a few hundred bytes with its stream's negotiation and framing) were not sent.
        Assert.True(nextCost < firstCost - 600, $"first circuit {firstCost} bytes, next {nextCost}");
        Assert.True(nextCost < 1024, $"next circuit {nextCost} bytes");
    }

    [Fact(Timeout = 60_000)]
    public async Task OnTheDefaultDataLimit_IdentifyListsEveryProtocol_AndIsAskedOnEachCircuit()
    {
        (Libp2pHost a, Libp2pHost b) = await HostsAsync();
        await using Libp2pHost ownA = a;
        await using Libp2pHost ownB = b;

        Task<IdentifyInfo> first = NextIdentify(a, b.PeerId);
        Task<IdentifyInfo> firstAtB = NextIdentify(b, a.PeerId);
        Connection circuit = await CircuitAsync(a, b, Default);
        Assert.False(circuit.HasSmallDataLimit);
        Assert.Contains(BulkProtocol, (await Bounded(first)).Protocols);
        await Bounded(firstAtB);
        long firstCost = await SettledAsync(a, b);

        await circuit.DisposeAsync();
        await TestHosts.WaitUntilAsync(() => a.GetConnection(b.PeerId) is null && b.GetConnection(a.PeerId) is null, "both saw the cut");
        Task<IdentifyInfo> again = NextIdentify(a, b.PeerId);
        Task<IdentifyInfo> againAtB = NextIdentify(b, a.PeerId);
        Connection next = await CircuitAsync(a, b, Default);
        Assert.Contains(BulkProtocol, (await Bounded(again)).Protocols);
        await Bounded(againAtB);
        // The same exchange again (give or take how the writes fell into Noise frames).
        Assert.InRange(await SettledAsync(a, b), firstCost * 4 / 5, firstCost * 6 / 5);
    }

    [Fact(Timeout = 60_000)]
    public async Task PingOnASmallDataLimit_IsAYamuxPing_AndOnTheDefaultLimitAPingStream()
    {
        (Libp2pHost a, Libp2pHost b) = await HostsAsync();
        await using Libp2pHost ownA = a;
        await using Libp2pHost ownB = b;

        Task<IdentifyInfo> identified = NextIdentify(a, b.PeerId);
        Task<IdentifyInfo> identifiedAtB = NextIdentify(b, a.PeerId);
        Connection small = await CircuitAsync(a, b, Small);
        await Bounded(Task.WhenAll(identified, identifiedAtB));
        long before = await SettledAsync(a, b);
        Assert.True(await a.PingAsync(b.PeerId, Ct) > TimeSpan.Zero);
        long smallPing = await SettledAsync(a, b) - before;
        // A yamux ping each way: 12 bytes in a Noise frame of 18 more.
        Assert.InRange(smallPing, 1, 80);

        await small.DisposeAsync();
        await TestHosts.WaitUntilAsync(() => a.GetConnection(b.PeerId) is null && b.GetConnection(a.PeerId) is null, "both saw the cut");
        identified = NextIdentify(a, b.PeerId);
        identifiedAtB = NextIdentify(b, a.PeerId);
        await CircuitAsync(a, b, Default);
        await Bounded(Task.WhenAll(identified, identifiedAtB));
        before = await SettledAsync(a, b);
        Assert.True(await a.PingAsync(b.PeerId, Ct) > TimeSpan.Zero);
        long streamPing = await SettledAsync(a, b) - before;
        Assert.True(streamPing > 150, $"a ping stream cost {streamPing} bytes");   // negotiation, 32 bytes each way, framing
    }
}
