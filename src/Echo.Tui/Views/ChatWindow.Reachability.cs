using Echo.Core.Events;
using Echo.Tui.Rendering;

namespace Echo.Tui.Views;

/// <summary>The node's reachability in the status line, when the network checks it.</summary>
internal sealed partial class ChatWindow
{
    private ReachabilityEvent? _reachability;

    private void ShowReachability(ReachabilityEvent reachability)
    {
        _reachability = reachability;
        ShowStatus();
    }

    /// <summary>" | public" (or private, unknown); nothing while the network reports no reachability.</summary>
    private IEnumerable<Span> ReachabilitySpans() => (_reachability ?? _manager.Reachability) is { } reachability
        ? [new Span(" | ", Tone.Dim), new Span(reachability.StatusText, Tone.Text)]
        : [];
}
