namespace Echo.SystemTests;

/// <summary>
/// A LAN of several hosts: one network namespace per host, each joined by a veth pair to a bridge
/// in a switch namespace of its own. Host i (from 0) has 10.77.0.(i+1)/24 and fd77::(i+1)/64 and no
/// route beyond them. Names are unique per LAN; disposing deletes every namespace, and with them
/// every veth and the bridge, also when creation failed half way.
/// </summary>
internal sealed class NetworkNamespaceLan : IAsyncDisposable
{
    private static int s_counter;
    private readonly string _switch;
    private readonly List<string> _created = [];

    private NetworkNamespaceLan(string tag, int hosts)
    {
        _switch = $"echo-mdns-{tag}-sw";
        Hosts = [.. Enumerable.Range(0, hosts).Select(i => $"echo-mdns-{tag}-h{i}")];
        Interfaces = [.. Enumerable.Range(0, hosts).Select(i => $"el{tag}h{i}")];
    }

    /// <summary>The host namespaces.</summary>
    public IReadOnlyList<string> Hosts { get; }

    /// <summary>The interface of each host on the LAN.</summary>
    public IReadOnlyList<string> Interfaces { get; }

    public static string Address(int host) => $"10.77.0.{host + 1}";

    public static async Task<NetworkNamespaceLan> CreateAsync(int hosts, CancellationToken cancellationToken)
    {
        await NetworkNamespacePair.RequireAsync(cancellationToken);
        string tag = $"{Environment.ProcessId % 100000:x}{Interlocked.Increment(ref s_counter):x}";
        NetworkNamespaceLan lan = new(tag, hosts);
        try
        {
            await StepAsync(["ip", "netns", "add", lan._switch], cancellationToken);
            lan._created.Add(lan._switch);
            // Without snooping the bridge floods every multicast group to every port, as a plain switch does.
            await StepAsync(["ip", "-n", lan._switch, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0"], cancellationToken);
            await StepAsync(["ip", "-n", lan._switch, "link", "set", "br0", "up"], cancellationToken);
            for (int i = 0; i < hosts; i++)
            {
                string host = lan.Hosts[i], nic = lan.Interfaces[i], port = $"el{tag}s{i}";
                await StepAsync(["ip", "netns", "add", host], cancellationToken);
                lan._created.Add(host);
                await StepAsync(["ip", "link", "add", nic, "netns", host, "type", "veth", "peer", "name", port, "netns", lan._switch],
                    cancellationToken);
                await StepAsync(["ip", "-n", lan._switch, "link", "set", port, "master", "br0"], cancellationToken);
                await StepAsync(["ip", "-n", lan._switch, "link", "set", port, "up"], cancellationToken);
                await StepAsync(["ip", "-n", host, "addr", "add", Address(i) + "/24", "dev", nic], cancellationToken);
                await StepAsync(["ip", "-n", host, "-6", "addr", "add", $"fd77::{i + 1}/64", "dev", nic, "nodad"], cancellationToken);
                await StepAsync(["ip", "-n", host, "link", "set", "lo", "up"], cancellationToken);
                await StepAsync(["ip", "-n", host, "link", "set", nic, "up"], cancellationToken);
            }
            return lan;
        }
        catch
        {
            await lan.DisposeAsync();
            throw;
        }
    }

    private static async Task StepAsync(string[] step, CancellationToken cancellationToken)
    {
        if (await NetworkNamespacePair.RunAsync(step, cancellationToken) is { } error)
            throw new InvalidOperationException($"`{string.Join(' ', step)}` failed: {error}");
    }

    public async ValueTask DisposeAsync()
    {
        // Deleting a namespace deletes the interfaces inside it: the host ends take their veth pairs
        // along, the switch namespace the bridge.
        foreach (string netns in _created)
            await NetworkNamespacePair.RunAsync(["ip", "netns", "delete", netns], CancellationToken.None);
    }
}
