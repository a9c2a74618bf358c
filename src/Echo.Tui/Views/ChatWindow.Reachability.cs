using Echo.Core.Chat;
using Echo.Core.Events;
using Echo.Core.Peers;
using Echo.Core.Ports;
using Echo.Tui.Rendering;

namespace Echo.Tui.Views;

/// <summary>The node's reachability and the relays it uses in the status line, when the network reports them.</summary>
internal sealed partial class ChatWindow
{
    private ReachabilityEvent? _reachability;
    private IReadOnlyList<string>? _relays;

    private void ShowRelays(RelaysEvent relays)
    {
        _relays = relays.Relays;
        ShowStatus();
    }

    private void ShowReachability(ReachabilityEvent reachability)
    {
        _reachability = reachability;
        ShowStatus();
    }

    /// <summary>
    /// " | public" (or private, unknown), then the relays in use (" | relays …abcd1234 …ef567890", or
    /// " | no relay" while private); nothing while the network reports neither.
    /// </summary>
    private IEnumerable<Span> ReachabilitySpans()
    {
        ReachabilityEvent? reachability = _reachability ?? _manager.Reachability;
        IReadOnlyList<string> relays = _relays ?? _manager.RelaysInUse;
        List<Span> spans = [];
        if (reachability is not null)
            spans.AddRange([new Span(" | ", Tone.Dim), new Span(reachability.StatusText, Tone.Text)]);
        if (relays.Count > 0)
            spans.AddRange([new Span(" | relays ", Tone.Dim),
                new Span(string.Join(' ', relays.Select(r => SafeText.ForDisplay(PeerInfo.ShortPeerId(RelayId(r))))), Tone.Text)]);
        else if (reachability?.Status == NodeReachability.Private)
            spans.AddRange([new Span(" | ", Tone.Dim), new Span("no relay", Tone.Text)]);
        return spans;
    }

    /// <summary>A relay's peer id: the last <c>/p2p/</c> part of its address, or the text as given.</summary>
    private static string RelayId(string relay)
    {
        int at = relay.LastIndexOf("/p2p/", StringComparison.Ordinal);
        return at < 0 ? relay : relay[(at + 5)..];
    }
}
