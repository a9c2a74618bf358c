using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Echo.TestKit.Lab;

/// <summary>
/// A small internet with two home NATs, built from network namespaces for one test and deleted with
/// it (also when building fails half way):
/// <code>
///   {Prefix}-inet   bridge on 10.200.0.0/24 ("the internet"; no link, no route to the root namespace)
///     public hosts {Prefix}-p0, -p1, …: js nodes on 10.200.0.1 … .9, dnsmasq on .53, others from .20
///     {Prefix}-ra  router A: WAN 10.200.0.11, LAN 10.201.1.1   →  {Prefix}-a  home A 10.201.1.2
///     {Prefix}-rb  router B: WAN 10.200.0.12, LAN 10.201.2.1   →  {Prefix}-b  home B 10.201.2.2
/// </code>
/// Each router forwards (ip_forward on in routers only), MASQUERADEs its LAN to its WAN address
/// (with <c>--random-fully</c> for <see cref="NatKind.Symmetric"/>), drops every forwarded packet
/// except LAN→WAN and ESTABLISHED,RELATED back, and drops new TCP connections to itself from the WAN.
/// Homes route only 10.200.0.0/24, through their router; IPv6 is off everywhere. Only these
/// addresses exist in the lab: <see cref="CreateAsync"/> checks that no lab namespace has a link or
/// a route beyond them before anything runs. Processes started through the lab (js nodes, dnsmasq,
/// echo-chat, <see cref="Track"/>ed ones) are stopped on dispose, and anything still running inside
/// a lab namespace is killed before the namespaces are deleted.
/// </summary>
public sealed partial class NatLab : IAsyncDisposable
{
    /// <summary>The lab's internet (the bridge's subnet); pass it to Echo's <c>--public-range</c>.</summary>
    public const string InternetSubnet = "10.200.0.0/24";

    /// <summary>Home A's LAN.</summary>
    public const string LanASubnet = "10.201.1.0/24";

    /// <summary>Home B's LAN.</summary>
    public const string LanBSubnet = "10.201.2.0/24";

    /// <summary>The address of the lab's dnsmasq (see <see cref="StartDnsAsync"/>).</summary>
    public const string DnsAddress = "10.200.0.53";

    private const int FirstExtraHost = 20;
    private static readonly string[] s_subnets = [InternetSubnet, LanASubnet, LanBSubnet];
    private static int s_counter;

    private readonly List<string> _namespaces = [];
    // Expected interfaces per namespace: the isolation check accepts nothing else.
    private readonly Dictionary<string, HashSet<string>> _interfaces = [];
    private readonly List<IAsyncDisposable> _processes = [];
    private readonly List<LabHost> _publicHosts = [];
    private readonly List<LabJsNode> _jsNodes = [];
    private readonly SemaphoreSlim _gate = new(1, 1);
    private int _nextExtraHost = FirstExtraHost;
    private int _disposed;

    private NatLab(string prefix)
    {
        Prefix = prefix;
        Internet = $"{prefix}-inet";
    }

    /// <summary>
    /// The prefix of every namespace (<c>{Prefix}-…</c>) and interface of this lab:
    /// <c>el&lt;pid&gt;n&lt;counter&gt;</c>, unique per process and lab.
    /// </summary>
    public string Prefix { get; }

    /// <summary>The namespace holding the bridge (the lab's internet); it has no address of its own.</summary>
    public string Internet { get; }

    /// <summary>Router A (WAN 10.200.0.11) and home A (10.201.1.2) behind it.</summary>
    public LabRouter RouterA { get; private set; } = null!;

    /// <summary>Router B (WAN 10.200.0.12) and home B (10.201.2.2) behind it.</summary>
    public LabRouter RouterB { get; private set; } = null!;

    /// <summary>Home A: the host behind router A.</summary>
    public LabHost HomeA => RouterA.Home;

    /// <summary>Home B: the host behind router B.</summary>
    public LabHost HomeB => RouterB.Home;

    /// <summary>The js-libp2p public nodes started with the lab (the first one the relay, when asked).</summary>
    public IReadOnlyList<LabJsNode> JsNodes => _jsNodes;

    /// <summary>Every public host made so far (js node hosts, dnsmasq's, <see cref="AddPublicHostAsync"/>'s).</summary>
    public IReadOnlyList<LabHost> PublicHosts => _publicHosts;

    /// <summary>Every namespace of the lab, in creation order.</summary>
    public IReadOnlyList<string> Namespaces => _namespaces;

    /// <summary>
    /// Skips the test when the lab cannot be built here (not root, no `ip netns`, no iptables, no
    /// dnsmasq when <paramref name="dns"/>, js packages not installed when <paramref name="js"/>);
    /// under CI=true fails instead, since scripts/test-setup.sh installs all of them.
    /// </summary>
    public static async Task RequireAsync(bool js, bool dns, CancellationToken cancellationToken)
    {
        await NetworkNamespacePair.RequireAsync(cancellationToken);
        string? missing = !OnPath("iptables") ? "iptables is not installed"
            : dns && !OnPath("dnsmasq") ? "dnsmasq is not installed"
            : js && !OnPath("node") ? "node is not installed"
            : js && !LabJsNode.Installed ? $"the lab's js packages are not installed in {LabJsNode.Directory}"
            : null;
        if (missing is null)
            return;
        missing += " (scripts/test-setup.sh installs it when run as root)";
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            Assert.Fail($"{missing}; CI=true, so this fails instead of skipping");
        Assert.Skip(missing);
    }

    private static bool OnPath(string command) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => d.Length > 0 && File.Exists(Path.Combine(d, command)));

    /// <summary>
    /// Builds the lab (after deleting stale labs of processes that no longer run), checks its
    /// isolation, and starts <see cref="NatLabOptions.JsNodes"/> js nodes (connected to each other
    /// unless <see cref="NatLabOptions.ConnectJsNodes"/> is off). Requires what
    /// <see cref="RequireAsync"/> checks (skipping or failing the test otherwise).
    /// </summary>
    public static async Task<NatLab> CreateAsync(NatLabOptions? options, CancellationToken cancellationToken)
    {
        options ??= new NatLabOptions();
        if (options.JsNodes is < 0 or > 9)
            throw new ArgumentOutOfRangeException(nameof(options), options.JsNodes, "0 to 9 js nodes");
        await RequireAsync(options.JsNodes > 0, dns: false, cancellationToken);
        await SweepStaleAsync(cancellationToken);
        string prefix = $"el{Environment.ProcessId}n{Interlocked.Increment(ref s_counter) % 100}";
        NatLab lab = new(prefix);
        try
        {
            await lab.BuildAsync(options, cancellationToken);
            await lab.AssertIsolatedAsync(cancellationToken);
            await lab.StartJsNodesAsync(options, cancellationToken);
            return lab;
        }
        catch
        {
            await lab.DisposeAsync();
            throw;
        }
    }

    private async Task BuildAsync(NatLabOptions options, CancellationToken cancellationToken)
    {
        await AddNamespaceAsync(Internet, cancellationToken);
        string bridge = $"{Prefix}br";
        _interfaces[Internet].Add(bridge);
        await StepAsync(["ip", "-n", Internet, "link", "add", bridge, "type", "bridge"], cancellationToken);
        await StepAsync(["ip", "-n", Internet, "link", "set", bridge, "up"], cancellationToken);
        RouterA = await AddRouterAsync("a", "10.200.0.11", 1, options.RouterA, cancellationToken);
        RouterB = await AddRouterAsync("b", "10.200.0.12", 2, options.RouterB, cancellationToken);
    }

    private async Task AddNamespaceAsync(string name, CancellationToken cancellationToken)
    {
        // Recorded before it exists, and made even if the build is being cancelled: a namespace made
        // after a cancelled wait would otherwise outlive the lab.
        _namespaces.Add(name);
        _interfaces[name] = ["lo"];
        await StepAsync(["ip", "netns", "add", name], CancellationToken.None);
        cancellationToken.ThrowIfCancellationRequested();
        await StepAsync(["ip", "netns", "exec", name, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
            "net.ipv6.conf.default.disable_ipv6=1"], cancellationToken);
        await StepAsync(["ip", "-n", name, "link", "set", "lo", "up"], cancellationToken);
    }

    /// <summary>A veth from <paramref name="netns"/> to the bridge, with <paramref name="address"/>/24 on it.</summary>
    private async Task PlugIntoInternetAsync(string netns, string inside, string bridgePort, string address, CancellationToken cancellationToken)
    {
        await StepAsync(["ip", "link", "add", inside, "netns", netns, "type", "veth", "peer", "name", bridgePort, "netns", Internet],
            cancellationToken);
        _interfaces[netns].Add(inside);
        _interfaces[Internet].Add(bridgePort);
        await StepAsync(["ip", "-n", Internet, "link", "set", bridgePort, "master", $"{Prefix}br", "up"], cancellationToken);
        await StepAsync(["ip", "-n", netns, "addr", "add", $"{address}/24", "dev", inside], cancellationToken);
        await StepAsync(["ip", "-n", netns, "link", "set", inside, "up"], cancellationToken);
    }

    private async Task<LabRouter> AddRouterAsync(string side, string wan, int lan, NatKind kind, CancellationToken cancellationToken)
    {
        string router = $"{Prefix}-r{side}", home = $"{Prefix}-{side}";
        string wanIf = $"{Prefix}w{side}", lanIf = $"{Prefix}l{side}", homeIf = $"{Prefix}h{side}";
        string lanAddress = $"10.201.{lan}.1", homeAddress = $"10.201.{lan}.2";
        await AddNamespaceAsync(router, cancellationToken);
        await AddNamespaceAsync(home, cancellationToken);
        await PlugIntoInternetAsync(router, wanIf, $"{Prefix}v{side}", wan, cancellationToken);
        await StepAsync(["ip", "link", "add", lanIf, "netns", router, "type", "veth", "peer", "name", homeIf, "netns", home], cancellationToken);
        _interfaces[router].Add(lanIf);
        _interfaces[home].Add(homeIf);
        await StepAsync(["ip", "-n", router, "addr", "add", $"{lanAddress}/24", "dev", lanIf], cancellationToken);
        await StepAsync(["ip", "-n", router, "link", "set", lanIf, "up"], cancellationToken);
        await StepAsync(["ip", "-n", home, "addr", "add", $"{homeAddress}/24", "dev", homeIf], cancellationToken);
        await StepAsync(["ip", "-n", home, "link", "set", homeIf, "up"], cancellationToken);
        await StepAsync(["ip", "-n", home, "route", "add", InternetSubnet, "via", lanAddress], cancellationToken);
        string[][] rules =
        [
            ["sysctl", "-qw", "net.ipv4.ip_forward=1"],
            ["iptables", "-P", "FORWARD", "DROP"],
            ["iptables", "-A", "FORWARD", "-i", lanIf, "-o", wanIf, "-j", "ACCEPT"],
            ["iptables", "-A", "FORWARD", "-i", wanIf, "-o", lanIf, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"],
            ["iptables", "-A", "INPUT", "-i", wanIf, "-p", "tcp", "--syn", "-j", "DROP"],
            ["iptables", "-t", "nat", "-A", "POSTROUTING", "-o", wanIf, "-j", "MASQUERADE",
                .. kind == NatKind.Symmetric ? (string[])["--random-fully"] : []],
        ];
        foreach (string[] rule in rules)
            await StepAsync(["ip", "netns", "exec", router, .. rule], cancellationToken);
        return new LabRouter(router, wan, lanAddress, kind, new LabHost(home, homeAddress));
    }

    private async Task<LabHost> AddPublicHostCoreAsync(int lastOctet, CancellationToken cancellationToken)
    {
        int index = _publicHosts.Count;
        LabHost host = new($"{Prefix}-p{index}", $"10.200.0.{lastOctet.ToString(CultureInfo.InvariantCulture)}");
        await AddNamespaceAsync(host.Namespace, cancellationToken);
        _publicHosts.Add(host);
        await PlugIntoInternetAsync(host.Namespace, $"{Prefix}h{index}", $"{Prefix}s{index}", host.Address, cancellationToken);
        await AssertIsolatedAsync(cancellationToken);
        return host;
    }

    /// <summary>
    /// Adds a public host (its own namespace on the lab's internet, addresses from 10.200.0.20 up),
    /// e.g. for a public Echo node or a test listener; checked for isolation like the rest.
    /// </summary>
    public async Task<LabHost> AddPublicHostAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await AddPublicHostCoreAsync(_nextExtraHost++, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Gives <paramref name="host"/> (a public host of this lab) one more address on the lab's internet,
    /// from the same pool as <see cref="AddPublicHostAsync"/>'s, and returns it; checked for isolation.
    /// </summary>
    public async Task<string> AddAddressAsync(LabHost host, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            int index = _publicHosts.IndexOf(host);
            if (index < 0)
                throw new ArgumentException($"{host.Namespace} is not a public host of this lab", nameof(host));
            string address = $"10.200.0.{(_nextExtraHost++).ToString(CultureInfo.InvariantCulture)}";
            await StepAsync(["ip", "-n", host.Namespace, "addr", "add", $"{address}/24", "dev", $"{Prefix}h{index}"], cancellationToken)
                .ConfigureAwait(false);
            await AssertIsolatedAsync(cancellationToken).ConfigureAwait(false);
            return address;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Starts one more js node (lab/js/node.mjs, no relay) on <paramref name="host"/>, any host of this
    /// lab (a home too), listening on port 4001 of its address and of each of <paramref name="extraAddresses"/>
    /// (see <see cref="AddAddressAsync"/>); stopped with the lab. Not in <see cref="JsNodes"/>.
    /// </summary>
    public async Task<LabJsNode> StartJsNodeAsync(LabHost host, IReadOnlyList<string> extraAddresses, CancellationToken cancellationToken)
    {
        await RequireAsync(js: true, dns: false, cancellationToken).ConfigureAwait(false);
        LabJsNode node = await LabJsNode.StartAsync(host, relay: false, cancellationToken, extraAddresses).ConfigureAwait(false);
        return Track(node);
    }

    private async Task StartJsNodesAsync(NatLabOptions options, CancellationToken cancellationToken)
    {
        List<LabHost> hosts = [];
        for (int i = 0; i < options.JsNodes; i++)
            hosts.Add(await AddPublicHostCoreAsync(i + 1, cancellationToken));
        // Started together: node's start-up is mostly CPU-bound module loading.
        int relays = options.JsRelays ?? (options.FirstJsNodeIsRelay ? 1 : 0);
        Task<LabJsNode>[] starts = [.. hosts.Select((h, i) => LabJsNode.StartAsync(h, i < relays, cancellationToken, relayDataLimit: options.RelayDataLimit,
            dhtClient: i >= (options.JsDhtServers ?? options.JsNodes)))];
        try
        {
            await Task.WhenAll(starts);
        }
        finally
        {
            foreach (Task<LabJsNode> start in starts.Where(s => s.IsCompletedSuccessfully))
            {
                _jsNodes.Add(start.Result);
                _processes.Add(start.Result);
            }
        }
        if (options.ConnectJsNodes && _jsNodes.Count > 1)
            await MeshJsNodesAsync(cancellationToken);
    }

    /// <summary>Each js node dials the ones before it; returns once every routing table holds all the others.</summary>
    private async Task MeshJsNodesAsync(CancellationToken cancellationToken)
    {
        for (int i = 1; i < _jsNodes.Count; i++)
        {
            foreach (LabJsNode earlier in _jsNodes.Take(i))
                await _jsNodes[i].CommandAsync("dial", new JsonObject { ["addr"] = earlier.Address }, cancellationToken);
        }
        // Kademlia adds a server to its table after identify showed it; poll that, bounded.
        using CancellationTokenSource limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(TimeSpan.FromSeconds(15));
        using PeriodicTimer poll = new(TimeSpan.FromMilliseconds(100));
        try
        {
            foreach (LabJsNode node in _jsNodes)
            {
                while ((await node.RoutingTableAsync(limit.Token)).Count < _jsNodes.Count - 1)
                    await poll.WaitForNextTickAsync(limit.Token);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException("the lab's js nodes did not fill each other's routing tables within 15 s");
        }
    }

    /// <summary>
    /// Starts dnsmasq on its own public host (<see cref="DnsAddress"/>, port 53) answering exactly
    /// <paramref name="txtRecords"/> (name → one TXT record per string), e.g.
    /// <c>["_dnsaddr.bootstrap.lab"] = ["dnsaddr=/dnsaddr/site1.bootstrap.lab/p2p/…"]</c>. Once per lab.
    /// </summary>
    public async Task<LabDns> StartDnsAsync(IReadOnlyDictionary<string, IReadOnlyList<string>> txtRecords, CancellationToken cancellationToken)
    {
        await RequireAsync(js: false, dns: true, cancellationToken);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_publicHosts.Any(h => h.Address == DnsAddress))
                throw new InvalidOperationException("the lab's dnsmasq runs already");
            LabHost host = await AddPublicHostCoreAsync(53, cancellationToken).ConfigureAwait(false);
            LabDns dns = await LabDns.StartAsync(host, txtRecords, cancellationToken).ConfigureAwait(false);
            _processes.Add(dns);
            return dns;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Starts a headless echo-chat in <paramref name="host"/>'s namespace, listening on
    /// <c>/ip4/&lt;host&gt;/tcp/&lt;port&gt;</c>, mDNS off, with <paramref name="extraArgs"/>
    /// (e.g. <c>--connect</c> a js node's <see cref="LabJsNode.Address"/>); stopped on dispose.
    /// </summary>
    public async Task<EchoChatProcess> StartEchoAsync(LabHost host, string name, IEnumerable<string> extraArgs,
        CancellationToken cancellationToken, int port = 4001)
    {
        EchoChatProcess chat = await EchoChatProcess.StartAsync(name, extraArgs, cancellationToken, networkNamespace: host.Namespace,
            listen: $"/ip4/{host.Address}/tcp/{port.ToString(CultureInfo.InvariantCulture)}");
        lock (_processes)
            _processes.Add(chat);
        return chat;
    }

    /// <summary>Stops <paramref name="process"/> with the lab (before its namespaces go); returns it.</summary>
    public T Track<T>(T process) where T : IAsyncDisposable
    {
        lock (_processes)
            _processes.Add(process);
        return process;
    }

    /// <summary>Runs <paramref name="command"/> inside <paramref name="netns"/> and returns its stdout; throws when it fails.</summary>
    public static async Task<string> ExecAsync(string netns, IEnumerable<string> command, CancellationToken cancellationToken)
    {
        string[] full = ["ip", "netns", "exec", netns, .. command];
        (string? error, string output) = await NetworkNamespacePair.RunForOutputAsync(full, cancellationToken).ConfigureAwait(false);
        return error is null ? output : throw new InvalidOperationException($"`{string.Join(' ', full)}` failed: {error}");
    }

    /// <summary>
    /// Throws unless the lab is closed: the root namespace holds no interface of the lab, every lab
    /// namespace holds only the interfaces the lab made, each veth's other end lies in a lab
    /// namespace, and every route stays inside the lab's subnets (no default route, no IPv6).
    /// </summary>
    public async Task AssertIsolatedAsync(CancellationToken cancellationToken)
    {
        List<string> problems = [];
        foreach (JsonElement link in await JsonAsync(["ip", "-j", "link", "show"], cancellationToken))
        {
            string name = link.GetProperty("ifname").GetString()!;
            if (name.StartsWith(Prefix, StringComparison.Ordinal))
                problems.Add($"the root namespace holds the lab's interface {name}");
        }
        foreach (string netns in _namespaces)
        {
            Dictionary<int, string?> peers = [];
            foreach (JsonElement id in await JsonAsync(["ip", "-n", netns, "-j", "netns", "list-id"], cancellationToken))
                peers[id.GetProperty("nsid").GetInt32()] = id.TryGetProperty("name", out JsonElement n) ? n.GetString() : null;
            foreach (JsonElement link in await JsonAsync(["ip", "-n", netns, "-j", "-d", "link", "show"], cancellationToken))
            {
                string name = link.GetProperty("ifname").GetString()!;
                if (!_interfaces[netns].Contains(name))
                {
                    problems.Add($"{netns} holds an interface the lab did not make: {name}");
                    continue;
                }
                string? kind = link.TryGetProperty("linkinfo", out JsonElement info) && info.TryGetProperty("info_kind", out JsonElement k)
                    ? k.GetString() : null;
                if (kind != "veth")
                    continue;
                string? other = link.TryGetProperty("link_netnsid", out JsonElement nsid) ? peers.GetValueOrDefault(nsid.GetInt32()) : null;
                if (other is null || !_namespaces.Contains(other))
                    problems.Add($"{netns}'s {name} leads out of the lab (to {other ?? "an unnamed namespace"})");
            }
            foreach (JsonElement route in await JsonAsync(["ip", "-n", netns, "-j", "-4", "route", "show"], cancellationToken))
            {
                string destination = route.GetProperty("dst").GetString()!;
                if (!InsideLab(destination))
                    problems.Add($"{netns} has a route beyond the lab: {route.GetRawText()}");
            }
            if (await JsonAsync(["ip", "-n", netns, "-j", "-6", "route", "show"], cancellationToken) is { Count: > 0 } v6)
                problems.Add($"{netns} has IPv6 routes: {string.Join(", ", v6.Select(r => r.GetRawText()))}");
        }
        if (problems.Count > 0)
            throw new InvalidOperationException("the lab is not isolated from the root namespace:\n" + string.Join('\n', problems));
    }

    private static bool InsideLab(string destination)
    {
        if (destination == "default")
            return false;
        string[] parts = destination.Split('/');
        int bits = parts.Length > 1 ? int.Parse(parts[1], CultureInfo.InvariantCulture) : 32;
        return IPAddress.TryParse(parts[0], out IPAddress? address)
               && s_subnets.Select(IPNetwork.Parse).Any(n => bits >= n.PrefixLength && n.Contains(address));
    }

    private static async Task<List<JsonElement>> JsonAsync(string[] command, CancellationToken cancellationToken)
    {
        (string? error, string output) = await NetworkNamespacePair.RunForOutputAsync(command, cancellationToken).ConfigureAwait(false);
        if (error is not null)
            throw new InvalidOperationException($"`{string.Join(' ', command)}` failed: {error}");
        if (string.IsNullOrWhiteSpace(output))
            return [];
        using JsonDocument document = JsonDocument.Parse(output);
        return [.. document.RootElement.EnumerateArray().Select(e => e.Clone())];
    }

    private static async Task StepAsync(string[] step, CancellationToken cancellationToken)
    {
        if (await NetworkNamespacePair.RunAsync(step, cancellationToken).ConfigureAwait(false) is { } error)
            throw new InvalidOperationException($"`{string.Join(' ', step)}` failed: {error}");
    }

    /// <summary>The lab namespaces (of any lab) that exist now and start with <paramref name="prefix"/>.</summary>
    public static async Task<IReadOnlyList<string>> ExistingNamespacesAsync(string prefix, CancellationToken cancellationToken) =>
        [.. (await AllNamespacesAsync(cancellationToken).ConfigureAwait(false)).Where(n => n.StartsWith(prefix + "-", StringComparison.Ordinal))];

    private static async Task<IEnumerable<string>> AllNamespacesAsync(CancellationToken cancellationToken)
    {
        (string? error, string output) = await NetworkNamespacePair.RunForOutputAsync(["ip", "netns", "list"], cancellationToken)
            .ConfigureAwait(false);
        if (error is not null)
            throw new InvalidOperationException($"`ip netns list` failed: {error}");
        // Lines look like "name" or "name (id: 3)".
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')[0]);
    }

    [GeneratedRegex("^el([0-9]+)n[0-9]+-")]
    private static partial Regex LabNamespace();

    /// <summary>Deletes the namespaces of labs whose process no longer runs (a test run that was killed).</summary>
    private static async Task SweepStaleAsync(CancellationToken cancellationToken)
    {
        foreach (string netns in await AllNamespacesAsync(cancellationToken).ConfigureAwait(false))
        {
            Match match = LabNamespace().Match(netns);
            if (match.Success && !Directory.Exists($"/proc/{match.Groups[1].Value}"))
                await DeleteNamespaceAsync(netns).ConfigureAwait(false);
        }
    }

    /// <summary>Kills whatever still runs inside <paramref name="netns"/> (only lab processes can), then deletes it.</summary>
    private static async Task DeleteNamespaceAsync(string netns)
    {
        (string? error, string output) = await NetworkNamespacePair.RunForOutputAsync(["ip", "netns", "pids", netns], CancellationToken.None)
            .ConfigureAwait(false);
        if (error is null)
        {
            foreach (string line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                try
                {
                    using Process process = Process.GetProcessById(int.Parse(line, CultureInfo.InvariantCulture));
                    process.Kill(entireProcessTree: true);
                    await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
                }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException or TimeoutException
                                              or System.ComponentModel.Win32Exception)
                {
                    // gone already, or not ours to wait for; the delete below still removes the name
                }
            }
        }
        await NetworkNamespacePair.RunAsync(["ip", "netns", "delete", netns], CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>
    /// Stops every process the lab started (newest first), kills anything left inside its
    /// namespaces, and deletes the namespaces (with them the veths, the bridge, the iptables rules and
    /// conntrack entries). A second call does nothing.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        List<Exception> errors = [];
        IAsyncDisposable[] processes;
        lock (_processes)
            processes = [.. _processes];
        foreach (IAsyncDisposable process in processes.Reverse())
        {
            try
            {
                await process.DisposeAsync().ConfigureAwait(false);
            }
#pragma warning disable CA1031 // every process must get its stop; the errors are thrown together below
            catch (Exception e)
#pragma warning restore CA1031
            {
                errors.Add(e);
            }
        }
        // Homes and routers first, the internet last: nothing is left dangling while others go.
        foreach (string netns in Enumerable.Reverse(_namespaces))
            await DeleteNamespaceAsync(netns).ConfigureAwait(false);
        _gate.Dispose();
        if (errors.Count > 0)
            throw new AggregateException("stopping the lab's processes failed", errors);
    }
}
