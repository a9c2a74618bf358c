using Echo.Core.Events;
using Echo.Core.Peers;
using Echo.Core.Ports;
using Echo.Tui.Rendering;

namespace Echo.Tui.Views;

/// <summary>The DHT in the status line (peers known, whether the current room was found through it) and in the peer panel's title.</summary>
internal sealed partial class ChatWindow
{
    private DhtStatus? _dht;

    private void ShowDht(DhtEvent dht)
    {
        _dht = dht.Status;
        ShowStatus();
    }

    /// <summary>" | dht 23" (peers in the routing table), then ", room via dht" when the current room was found through it; nothing without a DHT.</summary>
    private IEnumerable<Span> DhtSpans()
    {
        if ((_dht ?? _manager.Dht) is not { } dht)
            return [];
        bool found = _current?.RoomName is { } room && dht.RoomsFound.Contains(room, StringComparer.Ordinal);
        return [new Span(" | ", Tone.Dim), new Span($"dht {dht.RoutingTableSize}" + (found ? ", room via dht" : ""), Tone.Text)];
    }

    /// <summary>The peer panel's title: "Peers (3)", or "Peers (3, 2 dht)" when some were found through the DHT.</summary>
    private string PeersTitle()
    {
        int throughDht = _peers.Count(p => !p.IsAway && p.Source == PeerSource.Dht);
        return throughDht == 0 ? $"Peers ({_peers.Count})" : $"Peers ({_peers.Count}, {throughDht} dht)";
    }
}
