using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Echo.Net.Addressing;
using Echo.Net.Multiformats;

namespace Echo.Net.Identify;

/// <summary>
/// Collects the addresses peers observe us at (identify's <c>observedAddr</c>) and trusts one as a
/// candidate external address once enough distinct observers report it.
/// </summary>
/// <remarks>
/// <para>
/// Each connection counts once, with its latest observation, for the listen address its local end
/// belongs to: an inbound connection, or an outbound one dialed from the listening port (port
/// reuse). A connection from an ephemeral port is ignored: what a peer sees of it cannot be dialed.
/// An observation is dropped when its connection ends, so a candidate lasts while enough of its
/// observers stay connected (go-libp2p's observed-address manager follows the same rule).
/// </para>
/// <para>
/// Observers are counted by group: an IPv4 address, or the /56 prefix of an IPv6 address (one home
/// or one provider allocation), so one machine or one network with many peer ids counts once. An
/// address is trusted when at least <see cref="Threshold"/> groups report it (go's ActivationThresh
/// is 4); per listen address at most <see cref="MaxPerLocalAddress"/> are kept, those with the most
/// observers. Only public addresses (<see cref="AddressClassifier"/>, including ranges configured as
/// public) are considered: a private or loopback observation says nothing about the internet.
/// </para>
/// </remarks>
internal sealed class ObservedAddressManager(int threshold, AddressClassifier classifier)
{
    /// <summary>Distinct observers needed by default (go-libp2p's ActivationThresh).</summary>
    public const int DefaultThreshold = Host.HostOptions.DefaultObservedAddressThreshold;

    /// <summary>Trusted external addresses kept per listen address (go-libp2p keeps 3).</summary>
    public const int MaxPerLocalAddress = 3;

    private readonly Lock _gate = new();
    private readonly Dictionary<object, Observation> _byConnection = [];
    private IReadOnlyList<Multiaddr> _trusted = [];

    public int Threshold { get; } = threshold >= 1 ? threshold : throw new ArgumentOutOfRangeException(nameof(threshold));

    /// <summary>The trusted candidate addresses now (without <c>/p2p/</c>).</summary>
    public IReadOnlyList<Multiaddr> Trusted
    {
        get
        {
            lock (_gate)
                return _trusted;
        }
    }

    /// <summary>Connections whose observation is held.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
                return _byConnection.Count;
        }
    }

    /// <summary>
    /// Every address observed now, per listen address, with its number of distinct observer groups
    /// and whether it is trusted; most observers first.
    /// </summary>
    public IReadOnlyList<ObservedAddressCandidate> Candidates()
    {
        lock (_gate)
        {
            return [.. _byConnection.Values
                .GroupBy(o => (o.Listen, o.Observed))
                .Select(g => new ObservedAddressCandidate(g.Key.Listen, g.Key.Observed,
                    g.Select(o => o.ObserverGroup).Distinct(StringComparer.Ordinal).Count(), _trusted.Contains(g.Key.Observed)))
                .OrderByDescending(c => c.Observers)
                .ThenBy(c => c.Address.ToString(), StringComparer.Ordinal)];
        }
    }

    /// <summary>
    /// Records what the peer on <paramref name="connection"/> (at <paramref name="observer"/>) saw of
    /// its local end <paramref name="local"/>; true when the trusted set changed. Ignored (false) when
    /// the local end is not one of <paramref name="listenAddresses"/>' ports, or the observation is not
    /// a public TCP address of the same family.
    /// </summary>
    public bool Record(object connection, Multiaddr local, Multiaddr observed, IPAddress observer, IReadOnlyList<Multiaddr> listenAddresses)
    {
        Multiaddr? listen = ListenAddressOf(local, listenAddresses);
        Multiaddr transport = observed.WithoutPeerId();
        if (listen is null || !transport.TryGetTcpEndPoint(out IPEndPoint? seen) || seen is null
            || !local.TryGetTcpEndPoint(out IPEndPoint? ours) || ours is null
            || seen.AddressFamily != ours.AddressFamily || seen.Port == 0
            || classifier.Classify(transport) != AddressClass.Public)
            return Remove(connection);
        Observation observation = new(listen, transport, ObserverGroup(observer));
        lock (_gate)
        {
            if (_byConnection.TryGetValue(connection, out Observation? old) && old == observation)
                return false;
            _byConnection[connection] = observation;
            return Recompute();
        }
    }

    /// <summary>Forgets the observation of a connection that ended; true when the trusted set changed.</summary>
    public bool Remove(object connection)
    {
        lock (_gate)
            return _byConnection.Remove(connection) && Recompute();
    }

    /// <summary>
    /// The key observers are counted by: the IPv4 address, or the IPv6 address's /56 prefix (an
    /// IPv4-mapped IPv6 address counts as its IPv4 address).
    /// </summary>
    internal static string ObserverGroup(IPAddress observer)
    {
        if (observer.IsIPv4MappedToIPv6)
            observer = observer.MapToIPv4();
        if (observer.AddressFamily != AddressFamily.InterNetworkV6)
            return observer.ToString();
        byte[] bytes = observer.GetAddressBytes();
        Array.Clear(bytes, 7, bytes.Length - 7);
        return new IPAddress(bytes).ToString() + "/56";
    }

    private static Multiaddr? ListenAddressOf(Multiaddr local, IReadOnlyList<Multiaddr> listenAddresses)
    {
        if (!local.TryGetTcpEndPoint(out IPEndPoint? ours) || ours is null)
            return null;
        IPAddress ip = ours.Address.IsIPv4MappedToIPv6 ? ours.Address.MapToIPv4() : ours.Address;
        foreach (Multiaddr listen in listenAddresses)
        {
            if (!listen.TryGetTcpEndPoint(out IPEndPoint? endPoint) || endPoint is null || endPoint.Port != ours.Port
                || endPoint.AddressFamily != ip.AddressFamily)
                continue;
            if (endPoint.Address.Equals(IPAddress.Any) || endPoint.Address.Equals(IPAddress.IPv6Any) || endPoint.Address.Equals(ip))
                return listen;
        }
        return null;
    }

    // Under _gate.
    private bool Recompute()
    {
        List<Multiaddr> trusted = [];
        foreach (IGrouping<Multiaddr, Observation> perListen in _byConnection.Values.GroupBy(o => o.Listen))
        {
            trusted.AddRange(perListen
                .GroupBy(o => o.Observed)
                .Select(g => (Address: g.Key, Observers: g.Select(o => o.ObserverGroup).Distinct(StringComparer.Ordinal).Count()))
                .Where(c => c.Observers >= Threshold)
                .OrderByDescending(c => c.Observers)
                .ThenBy(c => c.Address.ToString(), StringComparer.Ordinal)
                .Take(MaxPerLocalAddress)
                .Select(c => c.Address));
        }
        IReadOnlyList<Multiaddr> result = [.. trusted.Distinct().Order(Comparer<Multiaddr>.Create(
            (x, y) => string.CompareOrdinal(x.ToString(), y.ToString())))];
        if (result.SequenceEqual(_trusted))
            return false;
        _trusted = result;
        return true;
    }

    private sealed record Observation(Multiaddr Listen, Multiaddr Observed, string ObserverGroup);

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Count} observations, {Trusted.Count} trusted");
}

/// <summary>An address peers observed us at (identify), for display: how many observers report it and whether it is trusted.</summary>
/// <param name="Listen">The listen address whose port the observed connections used.</param>
/// <param name="Address">The observed address (no <c>/p2p/</c>).</param>
/// <param name="Observers">Distinct observer groups (IPv4 address or IPv6 /56) reporting it now.</param>
/// <param name="Trusted">Whether it is a trusted candidate (advertised).</param>
public sealed record ObservedAddressCandidate(Multiaddr Listen, Multiaddr Address, int Observers, bool Trusted);
