using System.Globalization;
using Echo.Core.Chat;
using Echo.Core.Events;
using Echo.Core.Peers;
using Echo.Core.Ports;

namespace Echo.Core;

/// <summary>
/// What the network may make us store (<see cref="IngestQuota"/>): messages past an author's or a
/// peer's budget are counted and dropped before the store sees them, with one notice per peer;
/// and /stats, which shows the node's counts (<see cref="NodeStats"/>) with those refusals.
/// </summary>
public sealed partial class ChatManager
{
    private IngestQuota? _ingest;

    /// <summary>The storage budget of messages from the network (created on first use from <see cref="ChatOptions.Ingest"/>).</summary>
    internal IngestQuota Ingest => LazyInitializer.EnsureInitialized(ref _ingest, () => new IngestQuota(_options.Ingest, _options.Time));

    /// <summary>
    /// The messages of <paramref name="messages"/> within their author's and peer's budget (ours
    /// always are); the rest are counted and dropped, and the peer's first refusal is told.
    /// </summary>
    private List<ChatMessage> WithinQuota(List<ChatMessage> messages)
    {
        List<ChatMessage> admitted = new(messages.Count);
        foreach (ChatMessage message in messages)
        {
            if (message.Origin == MessageOrigin.Local)
            {
                admitted.Add(message);
                continue;
            }
            string? peer = message.Origin == MessageOrigin.EchoGo ? message.SenderId : message.ReceivedFrom;
            IngestVerdict verdict = Ingest.AdmitLive(message.SenderId, peer);
            if (verdict == IngestVerdict.Admitted)
            {
                admitted.Add(message);
                continue;
            }
            string blamed = verdict is IngestVerdict.PeerRate or IngestVerdict.PeerQuota ? peer ?? message.SenderId : message.SenderId;
            if (Ingest.FirstRefusal(blamed))
            {
                Log.IngestRefused(_logger, blamed, IngestQuota.ReasonKey(verdict));
                Publish(new NoticeEvent($"{PeerInfo.ShortPeerId(blamed)} sends more than Echo stores ({IngestQuota.ReasonKey(verdict)}); " +
                    "its messages past the limit are dropped (/stats counts them)"));
            }
        }
        return admitted;
    }

    /// <summary>Answers /stats: a notice for people, then a <see cref="StatsEvent"/> for programs.</summary>
    private void ShowStats()
    {
        NodeStats stats = (_network is INodeStatsSource source ? source.GetStats() : NodeStats.Empty).WithRefusals(Ingest.Refusals);
        Publish(new NoticeEvent(StatsText(stats)));
        Publish(new StatsEvent(stats));
    }

    /// <summary>The text /stats shows.</summary>
    internal static string StatsText(NodeStats stats)
    {
        CultureInfo c = CultureInfo.InvariantCulture;
        List<string> lines =
        [
            string.Create(c, $"connections: {stats.ConnectionsIn} in, {stats.ConnectionsOut} out"),
            "streams: " + (stats.Streams is { } streams ? streams.ToString(c) : "not counted"),
            "memory budget: " + (stats.MemoryInUse is { } used
                ? string.Create(c, $"{used / 1024.0 / 1024.0:0.0} MiB in use") +
                  (stats.MemoryBudget is { } budget ? string.Create(c, $" of {budget / 1024.0 / 1024.0:0.0} MiB") : "")
                : "not counted"),
        ];
        if (stats.BootstrapConnected is { } bootstrapConnected)
            lines.Add(string.Create(c, $"bootstrap peers: {bootstrapConnected} of {stats.BootstrapPeers} connected"));
        if (stats.DhtProviderRecords is { } providerRecords)
            lines.Add(string.Create(c, $"dht provider records held: {providerRecords}"));
        if (stats.Refused.Count == 0)
            lines.Add("refused: nothing");
        else
        {
            lines.Add("refused:");
            foreach ((string name, long count) in stats.Refused.OrderBy(r => r.Key, StringComparer.Ordinal))
                lines.Add(string.Create(c, $"  {name,-24} {count}"));
        }
        return string.Join('\n', lines);
    }
}
