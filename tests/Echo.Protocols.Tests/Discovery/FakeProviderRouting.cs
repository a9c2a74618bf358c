using System.Runtime.CompilerServices;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Protocols.Discovery;

namespace Echo.Protocols.Tests.Discovery;

/// <summary>An in-memory "DHT": the provider records of every key, shared by the nodes of a test.</summary>
internal sealed class ProviderSpace
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Dictionary<PeerId, Func<IReadOnlyList<Multiaddr>>>> _providers = new(StringComparer.Ordinal);

    /// <summary>Records <paramref name="peer"/> as a provider of <paramref name="key"/>, with its addresses as of each lookup.</summary>
    public void Add(ReadOnlySpan<byte> key, PeerId peer, Func<IReadOnlyList<Multiaddr>> addresses)
    {
        lock (_gate)
        {
            string hex = Convert.ToHexString(key);
            if (!_providers.TryGetValue(hex, out Dictionary<PeerId, Func<IReadOnlyList<Multiaddr>>>? peers))
                _providers[hex] = peers = [];
            peers[peer] = addresses;
        }
    }

    public IReadOnlyList<ProviderRecord> Get(ReadOnlySpan<byte> key)
    {
        lock (_gate)
        {
            return _providers.TryGetValue(Convert.ToHexString(key), out Dictionary<PeerId, Func<IReadOnlyList<Multiaddr>>>? peers)
                ? [.. peers.Select(p => new ProviderRecord(p.Key, p.Value()))]
                : [];
        }
    }
}

/// <summary>One node's view of a <see cref="ProviderSpace"/>, counting what it was asked.</summary>
internal sealed class FakeProviderRouting(ProviderSpace space, PeerId self, Func<IReadOnlyList<Multiaddr>> addresses, TimeProvider? time = null)
    : IProviderRouting
{
    private readonly Lock _gate = new();
    private readonly List<string> _provides = [];
    private readonly List<string> _lookups = [];
    private readonly List<ProviderLookup> _recent = [];
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <summary>How many peers a provide reaches (0: nobody, as with an empty routing table).</summary>
    public int Reached { get; set; } = 20;

    public int RoutingTableSize { get; set; } = 7;

    public ProviderRoutingMode Mode { get; set; } = ProviderRoutingMode.Client;

    public IReadOnlyList<ProviderLookup> RecentLookups
    {
        get
        {
            lock (_gate)
                return [.. _recent];
        }
    }

    /// <summary>How often <paramref name="key"/> was provided.</summary>
    public int Provides(byte[] key)
    {
        lock (_gate)
            return _provides.Count(k => k == Convert.ToHexString(key));
    }

    /// <summary>How often <paramref name="key"/> was looked up.</summary>
    public int Lookups(byte[] key)
    {
        lock (_gate)
            return _lookups.Count(k => k == Convert.ToHexString(key));
    }

    public Task<int> ProvideAsync(ReadOnlyMemory<byte> key, CancellationToken cancellationToken)
    {
        lock (_gate)
            _provides.Add(Convert.ToHexString(key.Span));
        if (Reached > 0)
            space.Add(key.Span, self, addresses);
        return Task.FromResult(Reached);
    }

    public async IAsyncEnumerable<ProviderRecord> FindProvidersAsync(ReadOnlyMemory<byte> key, int maxCount,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await Task.Yield();
        DateTimeOffset started = _time.GetUtcNow();
        IReadOnlyList<ProviderRecord> found = [.. space.Get(key.Span).Take(maxCount)];
        lock (_gate)
        {
            _lookups.Add(Convert.ToHexString(key.Span));
            _recent.Add(new ProviderLookup(ProviderLookupKind.Providers, started, TimeSpan.FromMilliseconds(42), 12, 9, found.Count));
            if (_recent.Count > 20)
                _recent.RemoveAt(0);
        }
        foreach (ProviderRecord record in found)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return record;
        }
    }
}
