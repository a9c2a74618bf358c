using System.Globalization;
using Echo.Core.Events;
using Echo.Core.Ports;

namespace Echo.Core;

/// <summary>The DHT as the network reports it (<see cref="IDhtStatusSource"/>), for the faces and /dht.</summary>
public sealed partial class ChatManager
{
    private DhtStatus? _dht;

    /// <summary>The DHT's last reported numbers; null while the network runs no DHT.</summary>
    public DhtStatus? Dht
    {
        get
        {
            lock (_gate)
                return _dht;
        }
    }

    private void ApplyDht(NetworkEvent networkEvent)
    {
        if (networkEvent is not DhtStatusChanged changed)
            return;
        lock (_gate)
        {
            _dht = changed.Status;
            PublishLocked(new DhtEvent(changed.Status, Requested: false));
        }
    }

    /// <summary>Answers /dht: a notice for people, then a <see cref="DhtEvent"/> for programs.</summary>
    private void ShowDht()
    {
        if ((_network as IDhtStatusSource)?.GetDhtStatus() is not { } status)
        {
            Publish(new NoticeEvent("the DHT is off (it runs with --bootstrap)"));
            return;
        }
        lock (_gate)
            _dht = status;
        Publish(new NoticeEvent(DhtText(status, DateTimeOffset.UtcNow)));
        Publish(new DhtEvent(status, Requested: true));
    }

    /// <summary>The text /dht shows.</summary>
    internal static string DhtText(DhtStatus status, DateTimeOffset now)
    {
        CultureInfo c = CultureInfo.InvariantCulture;
        List<string> lines =
        [
            "dht mode: " + status.Mode,
            string.Create(c, $"routing table: {status.RoutingTableSize} peer(s)"),
            string.Create(c, $"peers found through it: {status.PeersFound}"),
            "rooms found through it: " + (status.RoomsFound.Count == 0 ? "none" : string.Join(", ", status.RoomsFound.Select(r => "#" + r))),
        ];
        if (status.Lookups.Count == 0)
            lines.Add("lookups: none yet");
        else
        {
            lines.Add("last lookups:");
            foreach (DhtLookup lookup in status.Lookups.Reverse().Take(MaxDhtLookupsShown))
            {
                double ago = Math.Max(0, (now - lookup.Started).TotalSeconds);
                lines.Add(string.Create(c,
                    $"  {lookup.Kind,-13} {lookup.Duration.TotalMilliseconds,8:0} ms  {lookup.Messages,4} msgs  {lookup.PeersQueried,4} peers asked  {lookup.Found,3} found  {ago:0} s ago"));
            }
        }
        return string.Join('\n', lines);
    }

    /// <summary>Most lookups /dht lists (newest first).</summary>
    internal const int MaxDhtLookupsShown = 10;
}
