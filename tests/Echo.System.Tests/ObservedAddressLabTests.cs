using System.Globalization;
using System.Net;
using System.Text.Json;
using Echo.TestKit.Lab;

namespace Echo.SystemTests;

/// <summary>
/// Acceptance tests in the NAT lab for port reuse and observed addresses: behind an
/// endpoint-independent NAT, Echo dials public nodes from its listen port, every one of them sees the
/// router's WAN address with that port, and the address becomes Echo's trusted (advertised) candidate
/// exactly when the fourth observer reports it; behind a symmetric NAT each observer sees another
/// port and nothing is trusted; a second dial to a 4-tuple already in use succeeds from an ephemeral
/// port. Echo's side is read with <c>/addrs</c> (the headless <c>addrs</c> event).
/// </summary>
[Collection(NetworkNamespaceCollection.Name)]
public sealed class ObservedAddressLabTests
{
    private const int ListenPort = 4001;
    private const int Threshold = 4;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 60_000)]
    public async Task Behind_a_nat_four_observers_see_the_wan_address_with_the_listen_port_and_the_fourth_makes_it_trusted()
    {
        await using NatLab lab = await NatLab.CreateAsync(new NatLabOptions { JsNodes = Threshold + 1 }, Ct);
        EchoChatProcess alice = await lab.StartEchoAsync(lab.HomeA, "alice", ["--public-range", NatLab.InternetSubnet], Ct, ListenPort);
        string candidate = $"/ip4/{lab.RouterA.WanAddress}/tcp/{ListenPort.ToString(CultureInfo.InvariantCulture)}";
        string advertised = $"{candidate}/p2p/{alice.PeerId}";

        JsonElement before = await AddressesAsync(alice, _ => true);
        Assert.Empty(before.GetProperty("observed").EnumerateArray());
        Assert.DoesNotContain(advertised, Strings(before, "advertised"));

        for (int observers = 1; observers <= Threshold; observers++)
        {
            LabJsNode observer = lab.JsNodes[observers - 1];
            await ConnectAsync(alice, observer);
            // The public side sees alice at the router's WAN address with her listen port: she dialed from it.
            Assert.Equal(candidate, await RemoteAddressAsync(observer, alice.PeerId));

            int expected = observers;
            JsonElement addresses = await AddressesAsync(alice, a => Observers(a, candidate) == expected);
            JsonElement entry = Assert.Single(addresses.GetProperty("observed").EnumerateArray());
            bool trusted = observers >= Threshold;
            Assert.True(entry.GetProperty("trusted").GetBoolean() == trusted,
                $"after {observers} observers the candidate should {(trusted ? "" : "not ")}be trusted: {addresses}");
            if (trusted)
                Assert.Contains(advertised, Strings(addresses, "advertised"));
            else
                Assert.DoesNotContain(advertised, Strings(addresses, "advertised"));
        }

        // The peers already connected hear of it by identify push...
        JsonElement pushed = await lab.JsNodes[0].NextEventAsync(
            e => IsIdentifyOf(e, alice.PeerId) && ListenAddrs(e).Contains(candidate), Wait, Ct);
        Assert.Contains($"/ip4/{lab.HomeA.Address}/tcp/{ListenPort.ToString(CultureInfo.InvariantCulture)}", ListenAddrs(pushed));
        // ...and a peer connected after that in its first identify.
        LabJsNode late = lab.JsNodes[Threshold];
        await ConnectAsync(alice, late);
        await late.NextEventAsync(e => IsIdentifyOf(e, alice.PeerId) && ListenAddrs(e).Contains(candidate), Wait, Ct);
    }

    [Fact(Timeout = 60_000)]
    public async Task Behind_a_symmetric_nat_four_observers_see_four_ports_and_nothing_is_trusted()
    {
        await using NatLab lab = await NatLab.CreateAsync(new NatLabOptions { JsNodes = Threshold, RouterB = NatKind.Symmetric }, Ct);
        EchoChatProcess bob = await lab.StartEchoAsync(lab.HomeB, "bob", ["--public-range", NatLab.InternetSubnet], Ct, ListenPort);

        List<string> seen = [];
        foreach (LabJsNode observer in lab.JsNodes)
        {
            await ConnectAsync(bob, observer);
            string remote = await RemoteAddressAsync(observer, bob.PeerId);
            Assert.StartsWith($"/ip4/{lab.RouterB.WanAddress}/tcp/", remote, StringComparison.Ordinal);
            seen.Add(remote);
        }
        Assert.Equal(Threshold, seen.Distinct(StringComparer.Ordinal).Count());

        // Bob holds the four observations (one observer each); none is trusted or advertised.
        JsonElement addresses = await AddressesAsync(bob, a => a.GetProperty("observed").GetArrayLength() == Threshold);
        Assert.Equal(seen.Order(StringComparer.Ordinal), addresses.GetProperty("observed").EnumerateArray()
            .Select(o => o.GetProperty("addr").GetString()!).Order(StringComparer.Ordinal));
        Assert.All(addresses.GetProperty("observed").EnumerateArray(), o =>
        {
            Assert.Equal(1, o.GetProperty("observers").GetInt32());
            Assert.False(o.GetProperty("trusted").GetBoolean());
        });
        Assert.DoesNotContain(Strings(addresses, "advertised"), a => a.Contains(lab.RouterB.WanAddress, StringComparison.Ordinal));
    }

    [Fact(Timeout = 60_000)]
    public async Task A_second_dial_to_a_4_tuple_in_use_succeeds_from_an_ephemeral_port()
    {
        // Two public peers behind one public IP:port (a forwarder hands the first connection to the
        // first js node, the second to the second): alice's dial to the second cannot use her listen
        // port, since that 4-tuple carries her connection to the first.
        await using NatLab lab = await NatLab.CreateAsync(new NatLabOptions { JsNodes = 2, ConnectJsNodes = false }, Ct);
        LabHost front = await lab.AddPublicHostAsync(Ct);
        await using LabSplitForwarder forwarder = LabSplitForwarder.Start(front, ListenPort,
            [.. lab.JsNodes.Select(n => new IPEndPoint(IPAddress.Parse(n.Host.Address), LabJsNode.Port))]);
        EchoChatProcess alice = await lab.StartEchoAsync(lab.HomeA, "alice", [], Ct, ListenPort);
        string shared = $"/ip4/{front.Address}/tcp/{ListenPort.ToString(CultureInfo.InvariantCulture)}";

        await ConnectAsync(alice, lab.JsNodes[0], $"{shared}/p2p/{lab.JsNodes[0].PeerId}");
        await ConnectAsync(alice, lab.JsNodes[1], $"{shared}/p2p/{lab.JsNodes[1].PeerId}");

        IReadOnlyList<IPEndPoint> clients = forwarder.Clients;
        Assert.Equal(2, clients.Count);
        Assert.All(clients, c => Assert.Equal(lab.RouterA.WanAddress, c.Address.ToString()));
        Assert.Equal(ListenPort, clients[0].Port);        // the first dial came from the listen port
        Assert.NotEqual(ListenPort, clients[1].Port);     // the second fell back to an ephemeral one
        // Both connections stand: each js node has alice connected.
        foreach (LabJsNode node in lab.JsNodes)
            Assert.Contains(await node.ConnectionsAsync(Ct), c => c.PeerId == alice.PeerId);
    }

    /// <summary>Dials <paramref name="target"/> (at <paramref name="address"/>, default its own) by <c>/connect</c> and waits for the connection.</summary>
    private static async Task ConnectAsync(EchoChatProcess chat, LabJsNode target, string? address = null)
    {
        await chat.SendLineAsync($"/connect {address ?? target.Address}");
        JsonElement answer = await chat.NextAsync(e => e.GetProperty("type").GetString() is "error"
                                                       || (e.GetProperty("type").GetString() == "notice"
                                                           && e.GetProperty("text").GetString() == $"connected to {target.PeerId}"),
            Wait, Ct);
        Assert.True(answer.GetProperty("type").GetString() == "notice", $"the dial of {target.PeerId} failed: {answer}");
    }

    /// <summary>How <paramref name="node"/> sees <paramref name="peerId"/>'s address, without <c>/p2p/</c> (waits for the connection's end there).</summary>
    private static async Task<string> RemoteAddressAsync(LabJsNode node, string peerId)
    {
        using CancellationTokenSource limit = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        limit.CancelAfter(Wait);
        using PeriodicTimer poll = new(TimeSpan.FromMilliseconds(50));
        while (true)
        {
            if ((await node.ConnectionsAsync(limit.Token)).Where(c => c.PeerId == peerId).ToList() is [var connection])
            {
                Assert.Equal("inbound", connection.Direction);
                return connection.RemoteAddress.Split("/p2p/")[0];
            }
            await poll.WaitForNextTickAsync(limit.Token);
        }
    }

    /// <summary>Asks <c>/addrs</c> until the answer matches <paramref name="until"/> (bounded), and returns it.</summary>
    private static async Task<JsonElement> AddressesAsync(EchoChatProcess chat, Func<JsonElement, bool> until)
    {
        using CancellationTokenSource limit = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        limit.CancelAfter(Wait);
        using PeriodicTimer poll = new(TimeSpan.FromMilliseconds(100));
        JsonElement last = default;
        try
        {
            while (true)
            {
                await chat.SendLineAsync("/addrs");
                last = await chat.NextAsync(e => e.GetProperty("type").GetString() == "addrs", Wait, limit.Token);
                if (until(last))
                    return last;
                await poll.WaitForNextTickAsync(limit.Token);
            }
        }
        catch (OperationCanceledException) when (!Ct.IsCancellationRequested)
        {
            throw new TimeoutException($"/addrs did not reach the expected state within {Wait}; last answer: {last}");
        }
    }

    private static int Observers(JsonElement addresses, string address) =>
        addresses.GetProperty("observed").EnumerateArray()
            .Where(o => o.GetProperty("addr").GetString() == address)
            .Select(o => o.GetProperty("observers").GetInt32())
            .SingleOrDefault();

    private static string[] Strings(JsonElement element, string property) =>
        [.. element.GetProperty(property).EnumerateArray().Select(a => a.GetString()!)];

    private static bool IsIdentifyOf(JsonElement e, string peerId) =>
        e.GetProperty("type").GetString() == "identify" && e.GetProperty("peerId").GetString() == peerId;

    /// <summary>The listen addresses of an identify event, without their <c>/p2p/</c> part.</summary>
    private static string[] ListenAddrs(JsonElement identify) =>
        [.. Strings(identify, "listenAddrs").Select(a => a.Split("/p2p/")[0])];
}
