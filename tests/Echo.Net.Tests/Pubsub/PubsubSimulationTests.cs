using System.Diagnostics;
using Echo.Net.Identity;
using Echo.Net.Pubsub;

namespace Echo.Net.Tests.Pubsub;

/// <summary>30 routers on loopback in one process: a random sparse network, one topic, 1,000 messages.</summary>
public class PubsubSimulationTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 60_000)]
    public async Task ThirtyNodes_ThousandMessages_EveryNodeGetsEveryMessageExactlyOnce()
    {
        const int Nodes = 30;
        const int Messages = 1000;
        Random random = new(30);
        PubsubOptions options = PubsubNode.Fast with { DeliverOwnMessages = true };
        Stopwatch clock = Stopwatch.StartNew();
        PubsubNode[] nodes = await Task.WhenAll(Enumerable.Range(0, Nodes).Select(_ => PubsubNode.StartAsync(options)));
        PubsubSubscription[] subs = [.. nodes.Select(n => n.Router.Subscribe("sim"))];
        try
        {
            // A random tree keeps the graph connected; two more random dials each make it sparse but meshy.
            List<Task> dials = [];
            for (int i = 1; i < Nodes; i++)
            {
                HashSet<int> targets = [random.Next(i)];
                while (targets.Count < 3)
                {
                    int j = random.Next(Nodes);
                    if (j != i)
                        targets.Add(j);
                }
                foreach (int j in targets)
                    dials.Add(nodes[i].ConnectAsync(nodes[j]));
            }
            await Task.WhenAll(dials).WaitAsync(TimeSpan.FromSeconds(30), Ct);
            await TestHosts.WaitUntilAsync(() => MeshIsConnected(nodes), "the mesh spans all 30 nodes", TimeSpan.FromSeconds(30));
            TimeSpan formed = clock.Elapsed;

            // Readers: every node counts what it gets, per (author, seqno).
            Dictionary<(PeerId, ulong), int>[] received = [.. nodes.Select(_ => new Dictionary<(PeerId, ulong), int>())];
            int total = 0;
            TaskCompletionSource allArrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
            Task[] readers = [.. subs.Select((sub, i) => Task.Run(async () =>
            {
                await foreach (PubsubMessage m in sub.Messages.ReadAllAsync(Ct))
                {
                    lock (received[i])
                        received[i][(m.From, m.Seqno)] = received[i].GetValueOrDefault((m.From, m.Seqno)) + 1;
                    if (Interlocked.Increment(ref total) == Nodes * Messages)
                        allArrived.TrySetResult();
                }
            }, Ct))];

            Stopwatch publishing = Stopwatch.StartNew();
            List<(PeerId, ulong)> sent = [];
            for (int k = 0; k < Messages; k++)
            {
                PubsubNode publisher = nodes[random.Next(Nodes)];
                PubsubMessage m = await publisher.Router.PublishAsync("sim", BitConverter.GetBytes(k), Ct);
                sent.Add((m.From, m.Seqno));
            }
            TimeSpan published = publishing.Elapsed;
            await allArrived.Task.WaitAsync(TimeSpan.FromSeconds(40), Ct).ContinueWith(_ => { }, TaskScheduler.Default);
            TimeSpan delivered = publishing.Elapsed;

            for (int i = 0; i < Nodes; i++)
            {
                lock (received[i])
                {
                    Assert.True(received[i].Count == Messages, $"node {i} got {received[i].Count} of {Messages} distinct messages");
                    Assert.All(sent, key => Assert.Equal(1, received[i].GetValueOrDefault(key)));
                }
            }
            long duplicatesSeen = nodes.Sum(n => n.Router.Counters.Duplicates);
            long forwarded = nodes.Sum(n => n.Router.Counters.Forwarded);
            long dropped = nodes.Sum(n => n.Router.Peers.Sum(p => n.Router.GetPeer(p)?.RpcsDropped ?? 0));
            TestContext.Current.TestOutputHelper?.WriteLine(
                $"mesh formed in {formed.TotalSeconds:0.00} s; {Messages} messages published in {published.TotalSeconds:0.00} s, " +
                $"all {Nodes * Messages} deliveries after {delivered.TotalSeconds:0.00} s; forwards {forwarded}, duplicates dropped {duplicatesSeen}, " +
                $"queue drops {dropped}; mesh sizes {string.Join(",", nodes.Select(n => n.Router.MeshPeers("sim").Count))}");
            Assert.Equal(0, dropped);
        }
        finally
        {
            foreach (PubsubSubscription sub in subs)
                await sub.DisposeAsync();
            await Task.WhenAll(nodes.Select(n => n.DisposeAsync().AsTask()));
        }
    }

    private static bool MeshIsConnected(PubsubNode[] nodes)
    {
        Dictionary<PeerId, int> index = nodes.Select((n, i) => (n.Id, i)).ToDictionary(x => x.Id, x => x.i);
        List<int>[] edges = [.. nodes.Select(_ => new List<int>())];
        for (int i = 0; i < nodes.Length; i++)
        {
            foreach (PeerId peer in nodes[i].Router.MeshPeers("sim"))
            {
                if (index.TryGetValue(peer, out int j))
                {
                    edges[i].Add(j);
                    edges[j].Add(i);
                }
            }
        }
        HashSet<int> seen = [0];
        Stack<int> todo = new([0]);
        while (todo.TryPop(out int i))
        {
            foreach (int j in edges[i])
            {
                if (seen.Add(j))
                    todo.Push(j);
            }
        }
        return seen.Count == nodes.Length;
    }
}
