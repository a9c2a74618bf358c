using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.SystemTests;

/// <summary>
/// Attacks on a node's connection budget from another host (docs/LIMITS.md, L-conn-per-address,
/// L-conn-pending-per-address, L-streams-per-protocol, L-descriptors): three network namespaces on
/// one LAN, the target at 10.77.0.1, the attacker at 10.77.0.2, an honest peer at 10.77.0.3 that
/// must connect and exchange a room message both ways within 5 s while the attack goes on.
/// </summary>
[Collection(NetworkNamespaceCollection.Name)]
public sealed class ConnectionFloodNamespaceTests
{
    private const int PerAddressLimit = 8;               // ResourceLimits.MaxConnectionsPerAddress
    private static readonly TimeSpan Served = TimeSpan.FromSeconds(5);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static void Report(string line) => TestContext.Current.TestOutputHelper?.WriteLine(line);

    [Fact(Timeout = 180_000)]
    public async Task Hundred_idle_authenticated_connections_from_one_address_at_most_the_limit_stay_and_an_honest_peer_is_served()
    {
        await using NetworkNamespaceLan lan = await NetworkNamespaceLan.CreateAsync(3, Ct);
        await using EchoChatProcess target = await StartTargetAsync(lan);
        await using NamespaceForwarder attackerRoute = NamespaceForwarder.Start(lan.Hosts[1], EndPointOf(target));
        await using Attackers attackers = await Attackers.CreateAsync(100);
        using CancellationTokenSource stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        Multiaddr via = Multiaddr.Parse($"/ip4/127.0.0.1/tcp/{attackerRoute.Port}/p2p/{target.PeerId}");
        // Every identity keeps dialing until it has a connection: a renewed flood, not one wave.
        Task flood = attackers.KeepDialingAsync(via, stop.Token);
        int most = 0;
        try
        {
            using (CancellationTokenSource bound = CancellationTokenSource.CreateLinkedTokenSource(Ct))
            {
                bound.CancelAfter(TimeSpan.FromSeconds(60));
                while ((most = Math.Max(most, attackers.Connected(target.PeerId))) < PerAddressLimit)
                    await Task.Delay(50, bound.Token);
            }

            await using EchoChatProcess honest = await StartHonestAsync(lan, "honest");
            TimeSpan took = await HonestPeer.ConnectAndChatAsync(honest, target, Served, Ct);

            most = Math.Max(most, attackers.Connected(target.PeerId));
            Report($"attacker: {attackers.Dials} dials, at most {most} connections open; honest peer served in {took.TotalSeconds:0.00} s");
            Assert.Equal(PerAddressLimit, most);
            Assert.True(attackers.Dials > 100, $"only {attackers.Dials} dials");
        }
        finally
        {
            await stop.CancelAsync();
            await flood;
        }
    }

    [Fact(Timeout = 180_000)]
    public async Task Stalled_handshakes_renewed_from_one_address_an_honest_peer_is_served()
    {
        await using NetworkNamespaceLan lan = await NetworkNamespaceLan.CreateAsync(3, Ct);
        await using EchoChatProcess target = await StartTargetAsync(lan);
        IPEndPoint endPoint = EndPointOf(target);
        using CancellationTokenSource stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        int stalled = 0, taken = 0, refused = 0;
        // 40 sockets that open, say nothing and open again as soon as the target drops them (the
        // 32-handshake total of the target once was enough to lock everyone out).
        Task[] workers = [.. Enumerable.Range(0, 40).Select(_ => StallAsync())];
        try
        {
            using (CancellationTokenSource bound = CancellationTokenSource.CreateLinkedTokenSource(Ct))
            {
                bound.CancelAfter(TimeSpan.FromSeconds(60));
                while (Volatile.Read(ref stalled) < 4 || Volatile.Read(ref refused) < 40)
                    await Task.Delay(50, bound.Token);
            }

            await using EchoChatProcess honest = await StartHonestAsync(lan, "honest");
            TimeSpan took = await HonestPeer.ConnectAndChatAsync(honest, target, Served, Ct);

            Report($"attacker: {Volatile.Read(ref taken)} handshakes taken in, {Volatile.Read(ref refused)} refused; honest peer served in {took.TotalSeconds:0.00} s");
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(workers);
        }

        async Task StallAsync()
        {
            byte[] buffer = new byte[256];
            while (!stop.IsCancellationRequested)
            {
                using Socket socket = NamespaceSockets.Create(lan.Hosts[1], () => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
                bool inHandshake = false;
                try
                {
                    await socket.ConnectAsync(endPoint, stop.Token);
                    while (await socket.ReceiveAsync(buffer, stop.Token) > 0)
                    {
                        if (!inHandshake)
                        {
                            inHandshake = true;        // the target answered: it is waiting for our handshake
                            Interlocked.Increment(ref taken);
                            Interlocked.Increment(ref stalled);
                        }
                    }
                }
                catch (Exception e) when (e is SocketException or OperationCanceledException)
                {
                }
                if (inHandshake)
                    Interlocked.Decrement(ref stalled);
                else if (!stop.IsCancellationRequested)
                    Interlocked.Increment(ref refused);
                await Task.Delay(100, CancellationToken.None);
            }
        }
    }

    [Fact(Timeout = 240_000)]
    public async Task Thousand_never_read_file_requests_under_ulimit_1024_the_node_keeps_accepting_and_serves_an_honest_peer()
    {
        await using NetworkNamespaceLan lan = await NetworkNamespaceLan.CreateAsync(3, Ct);
        await using EchoChatProcess target = await StartTargetAsync(lan, openFiles: 1024);
        string outbox = Directory.CreateTempSubdirectory("echo-flood-outbox-").FullName;
        try
        {
            string file = Path.Combine(outbox, "big.bin");
            await File.WriteAllBytesAsync(file, RandomNumberGenerator.GetBytes(4 << 20), Ct);
            await target.SendLineAsync("/send " + file);
            JsonElement offered = await target.NextAsync(e => e.GetProperty("type").GetString() is "file-offered" or "error",
                TimeSpan.FromSeconds(20), Ct);
            Assert.Equal("file-offered", offered.GetProperty("type").GetString());
            string offerId = offered.GetProperty("id").GetString()!;
            int fdsBefore = OpenDescriptors(target.Pid);

            await using NamespaceForwarder attackerRoute = NamespaceForwarder.Start(lan.Hosts[1], EndPointOf(target));
            Multiaddr via = Multiaddr.Parse($"/ip4/127.0.0.1/tcp/{attackerRoute.Port}/p2p/{target.PeerId}");
            (int Answered, int Refused, int Silent) attack;
            int fdsDuring;
            await using (Attackers attackers = await Attackers.CreateAsync(12))
            {
                using CancellationTokenSource stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
                Task flood = attackers.KeepDialingAsync(via, stop.Token);
                try
                {
                    using (CancellationTokenSource bound = CancellationTokenSource.CreateLinkedTokenSource(Ct))
                    {
                        bound.CancelAfter(TimeSpan.FromSeconds(60));
                        while (attackers.Connected(target.PeerId) < PerAddressLimit)
                            await Task.Delay(50, bound.Token);
                    }
                    attack = await attackers.RequestFileWithoutReadingAsync(PeerId.Parse(target.PeerId), offerId, 1000, Ct);
                    fdsDuring = OpenDescriptors(target.Pid);

                    await using EchoChatProcess during = await StartHonestAsync(lan, "during");
                    TimeSpan took = await HonestPeer.ConnectAndChatAsync(during, target, Served, Ct);
                    Report($"attacker: {attack.Answered} file requests answered with the file, {attack.Refused} refused, {attack.Silent} neither; "
                           + $"target descriptors {fdsBefore} before, {fdsDuring} during (limit 1024); honest peer served during in {took.TotalSeconds:0.00} s");
                }
                finally
                {
                    await stop.CancelAsync();
                    await flood;
                }
            }
            Assert.Equal(1000, attack.Answered + attack.Refused + attack.Silent);
            Assert.InRange(attack.Answered, 1, PerAddressLimit * 4);   // 4 file streams per peer (InboundStreamLimits.Files)
            Assert.True(attack.Refused >= 900, $"only {attack.Refused} refused");
            Assert.True(fdsDuring < 1024 - 100, $"{fdsDuring} descriptors open during the attack");

            await using EchoChatProcess after = await StartHonestAsync(lan, "after");
            TimeSpan afterTook = await HonestPeer.ConnectAndChatAsync(after, target, Served, Ct);
            Report($"honest peer served after the attack in {afterTook.TotalSeconds:0.00} s; target descriptors {OpenDescriptors(target.Pid)}");
        }
        finally
        {
            Directory.Delete(outbox, recursive: true);
        }
    }

    private static Task<EchoChatProcess> StartTargetAsync(NetworkNamespaceLan lan, int? openFiles = null) =>
        EchoChatProcess.StartAsync("target", [], Ct, networkNamespace: lan.Hosts[0], listen: $"/ip4/{NetworkNamespaceLan.Address(0)}/tcp/0",
            openFiles: openFiles);

    private static Task<EchoChatProcess> StartHonestAsync(NetworkNamespaceLan lan, string name) =>
        EchoChatProcess.StartAsync(name, [], Ct, networkNamespace: lan.Hosts[2], listen: $"/ip4/{NetworkNamespaceLan.Address(2)}/tcp/0");

    private static IPEndPoint EndPointOf(EchoChatProcess node)
    {
        Assert.True(Multiaddr.Parse(node.Address).TryGetTcpEndPoint(out IPEndPoint? endPoint));
        return endPoint!;
    }

    private static int OpenDescriptors(int pid) => Directory.GetFiles($"/proc/{pid}/fd").Length;

    /// <summary>Many identities in this process, each a dial-only host that reaches the target through a forwarder.</summary>
    private sealed class Attackers : IAsyncDisposable
    {
        private readonly List<Libp2pHost> _hosts;
        private long _dials;

        private Attackers(List<Libp2pHost> hosts) => _hosts = hosts;

        public long Dials => Interlocked.Read(ref _dials);

        public static async Task<Attackers> CreateAsync(int count)
        {
            Attackers attackers = new([]);
            for (int i = 0; i < count; i++)
            {
                Libp2pHost host = new(KeyPair.Generate(), new HostOptions(), NullLoggerFactory.Instance);
                attackers._hosts.Add(host);
                await host.StartAsync(Ct);
            }
            return attackers;
        }

        public int Connected(string peer)
        {
            PeerId target = PeerId.Parse(peer);
            return _hosts.Count(h => h.GetConnection(target) is not null);
        }

        public Task KeepDialingAsync(Multiaddr via, CancellationToken stop) => Task.WhenAll(_hosts.Select(async host =>
        {
            while (!stop.IsCancellationRequested)
            {
                if (host.GetConnection(via.PeerId!) is null)
                {
                    Interlocked.Increment(ref _dials);
                    try
                    {
                        await host.DialAsync(via, stop);
                    }
                    catch (Exception e) when (e is DialFailedException or OperationCanceledException)
                    {
                    }
                }
                await Task.Delay(200, CancellationToken.None);
            }
        }));

        /// <summary>
        /// Opens <paramref name="count"/> file streams spread over the connected identities, sends a
        /// request for <paramref name="offerId"/> on each and never reads the file; returns how many
        /// got the start of the file, how many the target refused (reset), and how many neither within 2 s.
        /// </summary>
        public async Task<(int Answered, int Refused, int Silent)> RequestFileWithoutReadingAsync(PeerId target, string offerId, int count,
            CancellationToken cancellationToken)
        {
            Libp2pHost[] connected = [.. _hosts.Where(h => h.GetConnection(target) is not null)];
            byte[] id = Encoding.UTF8.GetBytes(offerId);
            Assert.True(id.Length < 120, "the request's length fits one varint byte");
            byte[] request = [(byte)(id.Length + 2), 0x0A, (byte)id.Length, .. id];     // FileRequest { id }, length-prefixed
            int answered = 0, refused = 0, silent = 0;
            await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = cancellationToken },
                async (i, ct) =>
                {
                    try
                    {
                        P2PStream stream = await connected[i % connected.Length].OpenStreamAsync(target, "/echo/file/1.0.0", ct);
                        await stream.Output.WriteAsync(request, ct);
                        using CancellationTokenSource wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
                        wait.CancelAfter(TimeSpan.FromSeconds(2));
                        // Look at what arrives without consuming it: the window fills and the target's sender blocks.
                        ReadResult read = await stream.Input.ReadAsync(wait.Token);
                        Interlocked.Increment(ref read.Buffer.Length > 0 ? ref answered : ref silent);
                        stream.Input.AdvanceTo(read.Buffer.Start, read.Buffer.End);
                    }
                    catch (Exception e) when (e is IOException or PeerNotConnectedException)
                    {
                        Interlocked.Increment(ref refused);
                    }
                    catch (Exception e) when (e is OperationCanceledException or TimeoutException && !ct.IsCancellationRequested)
                    {
                        Interlocked.Increment(ref silent);
                    }
                });
            return (answered, refused, silent);
        }

        public async ValueTask DisposeAsync() => await Task.WhenAll(_hosts.Select(h => h.DisposeAsync().AsTask()));
    }
}
