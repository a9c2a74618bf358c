namespace Echo.Net.AutoNat;

/// <summary>Where our reachability comes from: <see cref="AutoNatService"/> (or a stand-in in tests).</summary>
public interface IReachabilitySource
{
    /// <summary>Our reachability now.</summary>
    ReachabilityReport Reachability { get; }

    /// <summary>Raised on every change of <see cref="Reachability"/>.</summary>
    event Action<ReachabilityReport>? ReachabilityChanged;
}
