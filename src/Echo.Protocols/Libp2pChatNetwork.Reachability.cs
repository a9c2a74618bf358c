using Echo.Core.Ports;
using Echo.Net.AutoNat;

namespace Echo.Protocols;

/// <summary>AutoNAT's verdicts, passed to the chat as <see cref="ReachabilityChanged"/> (when the host runs AutoNAT).</summary>
public sealed partial class Libp2pChatNetwork
{
    /// <summary>Reports the starting status (unknown) and then every change.</summary>
    private void StartReachability()
    {
        if (_host.AutoNat is not { } autoNat)
            return;
        autoNat.ReachabilityChanged += report => Post(ToEvent(report));
        Post(ToEvent(autoNat.Reachability));
    }

    internal static ReachabilityChanged ToEvent(ReachabilityReport report) => new(
        report.Status switch
        {
            ReachabilityStatus.Public => NodeReachability.Public,
            ReachabilityStatus.Private => NodeReachability.Private,
            _ => NodeReachability.Unknown,
        },
        [.. report.Addresses.Select(a => a.ToString())]);
}
