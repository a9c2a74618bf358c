using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Echo.TestKit.Lab;
using Makaretu.Dns;

namespace Echo.SystemTests;

/// <summary>
/// The NAT lab itself: it is closed to the root namespace, its routers behave as home NATs (the
/// public side sees the WAN address, unsolicited connections fail, the symmetric variant maps per
/// destination), an Echo node behind a NAT reaches a js public node, dnsmasq answers TXT queries, and
/// nothing is left after disposal. Each test reports how long building and tearing down took.
/// </summary>
[Collection(NetworkNamespaceCollection.Name)]
public sealed class NatLabTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static void Report(string what, TimeSpan elapsed) =>
        TestContext.Current.TestOutputHelper?.WriteLine($"{what}: {elapsed.TotalMilliseconds:0} ms");

    private static async Task<NatLab> BuildAsync(NatLabOptions options)
    {
        Stopwatch clock = Stopwatch.StartNew();
        NatLab lab = await NatLab.CreateAsync(options, Ct);
        Report($"build with {options.JsNodes} js nodes", clock.Elapsed);
        return lab;
    }

    private static async Task TearDownAsync(NatLab lab)
    {
        Stopwatch clock = Stopwatch.StartNew();
        await lab.DisposeAsync();
        Report("teardown", clock.Elapsed);
        Assert.Empty(await NatLab.ExistingNamespacesAsync(lab.Prefix, Ct));
    }

    [Fact(Timeout = 60_000)]
    public async Task The_lab_is_closed_and_leaves_no_namespace_or_process_behind()
    {
        // A lab left by a test process that was killed (no process has an id above pid_max) is swept.
        string stale = "el4194305n1-inet";
        await NetworkNamespacePair.RequireAsync(Ct);
        Assert.Null(await NetworkNamespacePair.RunAsync(["ip", "netns", "add", stale], Ct));
        NatLab lab = await BuildAsync(new NatLabOptions());
        List<int> pids;
        try
        {
            Assert.Empty(await NatLab.ExistingNamespacesAsync("el4194305n1", Ct));
            await lab.AssertIsolatedAsync(Ct);
            Assert.Equal(4, lab.JsNodes.Count);
            Assert.Equal(4, lab.JsNodes.Select(n => n.Host.Address).Distinct().Count());
            Assert.Contains("/libp2p/circuit/relay/0.2.0/hop", lab.JsNodes[0].Protocols);
            Assert.All(lab.JsNodes, n => Assert.Contains("/ipfs/kad/1.0.0", n.Protocols));
            // The js nodes form one DHT: each routing table holds the three others.
            foreach (LabJsNode node in lab.JsNodes)
            {
                Assert.Equal(lab.JsNodes.Where(n => n != node).Select(n => n.PeerId).Order(),
                    (await node.RoutingTableAsync(Ct)).Order());
            }
            LabDns dns = await lab.StartDnsAsync(new Dictionary<string, IReadOnlyList<string>> { ["x.lab"] = ["y"] }, Ct);
            EchoChatProcess echo = await lab.StartEchoAsync(lab.HomeA, "alice", [], Ct);
            pids = [.. lab.JsNodes.Select(n => n.ProcessId), dns.ProcessId, echo.ProcessId];

            // The check can fail: a default route out of a home is caught.
            await NetworkNamespacePair.ExecAsync(lab.HomeA.Namespace, ["ip", "route", "add", "default", "via", lab.RouterA.LanAddress], Ct);
            InvalidOperationException leak = await Assert.ThrowsAsync<InvalidOperationException>(() => lab.AssertIsolatedAsync(Ct));
            Assert.Contains("route beyond the lab", leak.Message, StringComparison.Ordinal);
        }
        finally
        {
            await NetworkNamespacePair.RunAsync(["ip", "netns", "delete", stale], CancellationToken.None);   // when the sweep failed
            await TearDownAsync(lab);
        }
        foreach (int pid in pids)
            Assert.False(Directory.Exists($"/proc/{pid}"), $"process {pid} outlived the lab");
    }

    [Fact(Timeout = 60_000)]
    public async Task A_lab_stopped_while_it_is_built_leaves_nothing_behind()
    {
        await NatLab.RequireAsync(js: true, dns: false, Ct);
        string mine = $"el{Environment.ProcessId}n";
        HashSet<string> before = [.. await NamespacesAsync()];
        using CancellationTokenSource abort = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        Task<NatLab> create = NatLab.CreateAsync(new NatLabOptions(), abort.Token);

        // The last js host exists: the routers are up and the js nodes are starting. Pull the plug.
        string? lastHost = null;
        using PeriodicTimer poll = new(TimeSpan.FromMilliseconds(20));
        while (lastHost is null && !create.IsCompleted)
        {
            lastHost = (await NamespacesAsync()).FirstOrDefault(n => n.StartsWith(mine, StringComparison.Ordinal)
                                                                     && n.EndsWith("-p3", StringComparison.Ordinal) && !before.Contains(n));
            if (lastHost is null)
                await poll.WaitForNextTickAsync(Ct);
        }
        await abort.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => create);
        Assert.NotNull(lastHost);
        Assert.Empty(await NatLab.ExistingNamespacesAsync(lastHost[..lastHost.LastIndexOf('-')], Ct));

        static async Task<string[]> NamespacesAsync()
        {
            (string? error, string output) = await NetworkNamespacePair.RunForOutputAsync(["ip", "netns", "list"], Ct);
            Assert.Null(error);
            return [.. output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')[0])];
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task Behind_a_nat_the_public_side_sees_the_wan_address_and_unsolicited_connections_fail()
    {
        NatLab lab = await BuildAsync(new NatLabOptions { JsNodes = 0 });
        try
        {
            LabHost server = await lab.AddPublicHostAsync(Ct);
            using Socket listener = Listen(server, 5001);

            using Socket client = NamespaceSockets.Create(lab.HomeA.Namespace, () => Bound(lab.HomeA, 40000));
            await client.ConnectAsync(IPAddress.Parse(server.Address), 5001, Ct);
            using Socket accepted = await listener.AcceptAsync(Ct);
            Assert.Equal(new IPEndPoint(IPAddress.Parse(lab.RouterA.WanAddress), 40000), accepted.RemoteEndPoint);

            // A listener at home is out of reach: new connections to the router's WAN address are dropped.
            using Socket home = Listen(lab.HomeA, 40001);
            foreach (int port in (int[])[40000, 40001])
            {
                using Socket stranger = NamespaceSockets.Create(server.Namespace,
                    () => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
                using CancellationTokenSource limit = CancellationTokenSource.CreateLinkedTokenSource(Ct);
                limit.CancelAfter(TimeSpan.FromSeconds(2));
                await Assert.ThrowsAnyAsync<OperationCanceledException>(
                    async () => await stranger.ConnectAsync(IPAddress.Parse(lab.RouterA.WanAddress), port, limit.Token));
            }
            Assert.False(home.Poll(0, SelectMode.SelectRead), "a connection reached the home listener");
        }
        finally
        {
            await TearDownAsync(lab);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task A_symmetric_nat_maps_one_source_port_to_a_port_per_destination()
    {
        NatLab lab = await BuildAsync(new NatLabOptions { JsNodes = 0, RouterB = NatKind.Symmetric });
        try
        {
            LabHost first = await lab.AddPublicHostAsync(Ct), second = await lab.AddPublicHostAsync(Ct);
            using Socket toFirst = Listen(first, 5001), toSecond = Listen(second, 5001);

            async Task<int[]> ObservedPortsAsync(LabHost home, int sourcePort)
            {
                List<int> ports = [];
                foreach ((LabHost server, Socket listener) in (ValueTuple<LabHost, Socket>[])[(first, toFirst), (second, toSecond)])
                {
                    using Socket client = NamespaceSockets.Create(home.Namespace, () => Bound(home, sourcePort));
                    await client.ConnectAsync(IPAddress.Parse(server.Address), 5001, Ct);
                    using Socket accepted = await listener.AcceptAsync(Ct);
                    ports.Add(((IPEndPoint)accepted.RemoteEndPoint!).Port);
                }
                return [.. ports];
            }

            int[] masquerade = await ObservedPortsAsync(lab.HomeA, 40100);
            int[] symmetric = await ObservedPortsAsync(lab.HomeB, 40200);
            Assert.Equal([40100, 40100], masquerade);                  // endpoint-independent, port kept
            Assert.NotEqual(symmetric[0], symmetric[1]);               // endpoint-dependent
        }
        finally
        {
            await TearDownAsync(lab);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task An_echo_node_behind_a_nat_dials_a_js_public_node_and_both_identify()
    {
        NatLab lab = await BuildAsync(new NatLabOptions { JsNodes = 1 });
        try
        {
            LabJsNode js = lab.JsNodes[0];
            EchoChatProcess alice = await lab.StartEchoAsync(lab.HomeA, "alice", ["--connect", js.Address], Ct);

            JsonElement identified = await js.NextEventAsync(
                e => e.GetProperty("type").GetString() == "identify" && e.GetProperty("peerId").GetString() == alice.PeerId,
                TimeSpan.FromSeconds(20), Ct);
            Assert.Contains($"/ip4/{lab.HomeA.Address}/tcp/4001", identified.GetProperty("listenAddrs").EnumerateArray().Select(a => a.GetString()!)
                .Select(a => a.Split("/p2p/")[0]));
            Assert.Contains("/ipfs/id/1.0.0", identified.GetProperty("protocols").EnumerateArray().Select(p => p.GetString()));
            // The js node sees alice from router A's WAN address (Echo dials from an ephemeral port here).
            (string _, string remote, string direction) = Assert.Single(await js.ConnectionsAsync(Ct), c => c.PeerId == alice.PeerId);
            Assert.StartsWith($"/ip4/{lab.RouterA.WanAddress}/tcp/", remote, StringComparison.Ordinal);
            Assert.Equal("inbound", direction);
            // The connection carries streams the other way too: the js node pings alice over it.
            JsonElement ping = await js.CommandAsync("ping", new System.Text.Json.Nodes.JsonObject { ["peer"] = alice.PeerId }, Ct);
            Assert.True(ping.GetProperty("rttMs").GetDouble() >= 0);
        }
        finally
        {
            await TearDownAsync(lab);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task The_lab_dnsmasq_answers_the_txt_records_it_was_given_and_nothing_else()
    {
        NatLab lab = await BuildAsync(new NatLabOptions { JsNodes = 0 });
        try
        {
            string[] records = ["dnsaddr=/dnsaddr/site1.bootstrap.lab/p2p/12D3KooWExample", "dnsaddr=/ip4/10.200.0.1/tcp/4001/p2p/12D3KooWOther"];
            LabDns dns = await lab.StartDnsAsync(new Dictionary<string, IReadOnlyList<string>> { ["_dnsaddr.bootstrap.lab"] = records }, Ct);

            Message answer = await QueryTxtAsync(lab.HomeA, dns, "_dnsaddr.bootstrap.lab");
            Assert.Equal(MessageStatus.NoError, answer.Status);
            Assert.Equal(records.Order(), answer.Answers.OfType<TXTRecord>().SelectMany(r => r.Strings).Order());

            Message unknown = await QueryTxtAsync(lab.HomeA, dns, "_dnsaddr.example.com");
            Assert.Empty(unknown.Answers);
            Assert.NotEqual(MessageStatus.NoError, unknown.Status);
        }
        finally
        {
            await TearDownAsync(lab);
        }
    }

    private static async Task<Message> QueryTxtAsync(LabHost from, LabDns dns, string name)
    {
        using Socket udp = NamespaceSockets.Create(from.Namespace, () => new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp));
        Message query = new() { Id = (ushort)Random.Shared.Next(1, ushort.MaxValue), RD = true };
        query.Questions.Add(new Question { Name = name, Type = DnsType.TXT, Class = DnsClass.IN });
        await udp.SendToAsync(query.ToByteArray(), new IPEndPoint(IPAddress.Parse(dns.Host.Address), 53), Ct);
        byte[] buffer = new byte[4096];
        using CancellationTokenSource limit = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        limit.CancelAfter(TimeSpan.FromSeconds(5));
        int length = await udp.ReceiveAsync(buffer, limit.Token);
        Message reply = new();
        reply.Read(buffer, 0, length);
        Assert.Equal(query.Id, reply.Id);
        return reply;
    }

    private static Socket Bound(LabHost host, int port)
    {
        Socket socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        socket.Bind(new IPEndPoint(IPAddress.Parse(host.Address), port));
        return socket;
    }

    private static Socket Listen(LabHost host, int port) => NamespaceSockets.Create(host.Namespace, () =>
    {
        Socket socket = Bound(host, port);
        socket.Listen();
        return socket;
    });
}
