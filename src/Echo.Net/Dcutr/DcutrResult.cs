using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;

namespace Echo.Net.Dcutr;

/// <summary>How an upgrade of a relayed connection ended.</summary>
public enum DcutrOutcome
{
    /// <summary>The peer had a public address and we dialed it (the spec's unilateral upgrade).</summary>
    DirectDial,

    /// <summary>A TCP hole punch coordinated over the relay made a direct connection.</summary>
    HolePunched,

    /// <summary>No direct connection: the peer stays relayed (<see cref="DcutrResult.Reason"/> says why).</summary>
    Failed,
}

/// <summary>
/// The outcome of upgrading the relayed connection to <paramref name="Peer"/>, as
/// <see cref="DcutrService.Completed"/> reports it on both sides.
/// </summary>
/// <param name="Peer">The other peer.</param>
/// <param name="Outcome">Direct, punched, or failed.</param>
/// <param name="Attempts">Hole punching attempts made (0 for a direct dial without DCUtR).</param>
/// <param name="RemoteAddress">The direct connection's remote address, on success.</param>
/// <param name="Role">Our upgrade role on the direct connection, on success.</param>
/// <param name="Reason">Why it failed (or null), e.g. "symmetric NAT suspected: ...".</param>
/// <param name="SymmetricNatSuspected">Ports observed for one address varied, so punching could not work.</param>
/// <param name="Elapsed">From the start of the upgrade (or of the exchange, on the answering side) to the outcome.</param>
public sealed record DcutrResult(PeerId Peer, DcutrOutcome Outcome, int Attempts, Multiaddr? RemoteAddress,
    ConnectionRole? Role, string? Reason, bool SymmetricNatSuspected, TimeSpan Elapsed)
{
    public bool Succeeded => Outcome != DcutrOutcome.Failed;

    public override string ToString() => Outcome switch
    {
        DcutrOutcome.DirectDial => $"direct connection to {Peer} at {RemoteAddress}",
        DcutrOutcome.HolePunched => $"hole punched to {Peer} at {RemoteAddress} on attempt {Attempts}",
        _ => $"no direct connection to {Peer} after {Attempts} attempt(s): {Reason}",
    };
}
