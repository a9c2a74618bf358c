using Echo.Net.Identity;
using Echo.Net.Multiformats;

namespace Echo.Net.Identify;

/// <summary>What a peer told us about itself through identify.</summary>
public sealed record IdentifyInfo(
    PeerId Peer,
    string? ProtocolVersion,
    string? AgentVersion,
    IReadOnlyList<Multiaddr> ListenAddresses,
    IReadOnlyList<string> Protocols,
    Multiaddr? ObservedAddress)
{
    public bool Supports(string protocol) => Protocols.Contains(protocol, StringComparer.Ordinal);
}
