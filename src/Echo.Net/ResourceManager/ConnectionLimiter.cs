using System.Net;
using System.Runtime.InteropServices;

namespace Echo.Net.ResourceManager;

/// <summary>
/// Counts inbound connections from the moment they are accepted, before their handshake starts:
/// the inbound total (a hard limit: in handshake plus open never exceed it), the handshakes in
/// progress, and both per remote address (<see cref="AddressBucket"/>). A refused connection is
/// never counted; an accepted one holds an <see cref="InboundSlot"/> until it ends.
/// </summary>
internal sealed class ConnectionLimiter
{
    private readonly Lock _gate = new();
    private readonly Dictionary<AddressBucket, Usage> _perAddress = [];
    private readonly int _maxInbound;
    private readonly int _maxPending;
    private readonly ResourceLimits _limits;
    private int _inbound;
    private int _pending;

    public ConnectionLimiter(int maxInbound, int maxPending, ResourceLimits limits)
    {
        _maxInbound = maxInbound;
        _maxPending = maxPending;
        _limits = limits;
    }

    /// <summary>Inbound connections in their handshake or open.</summary>
    public int Inbound
    {
        get
        {
            lock (_gate)
                return _inbound;
        }
    }

    /// <summary>Inbound connections in their handshake.</summary>
    public int Pending
    {
        get
        {
            lock (_gate)
                return _pending;
        }
    }

    /// <summary>Addresses with at least one counted connection (entries are dropped when their last one ends).</summary>
    public int Addresses
    {
        get
        {
            lock (_gate)
                return _perAddress.Count;
        }
    }

    /// <summary>
    /// Counts a new inbound connection from <paramref name="remote"/> as in its handshake, or returns
    /// null and the limit that refused it. A null <paramref name="remote"/> (a relayed circuit, whose
    /// address is its relay's) is under the totals only.
    /// </summary>
    public InboundSlot? TryOpen(IPAddress? remote, out LimitKind refusal)
    {
        AddressBucket? bucket = remote is null || (_limits.ExemptLoopback && AddressBucket.IsLoopback(remote))
            ? null
            : AddressBucket.Of(remote, _limits.Ipv6PrefixLength);
        lock (_gate)
        {
            refusal = default;
            if (_inbound >= _maxInbound)
                refusal = LimitKind.InboundConnections;
            else if (_pending >= _maxPending)
                refusal = LimitKind.PendingHandshakes;
            else if (bucket is { } key && _perAddress.TryGetValue(key, out Usage usage))
            {
                if (usage.Open + usage.Pending >= _limits.MaxConnectionsPerAddress)
                    refusal = LimitKind.ConnectionsPerAddress;
                else if (usage.Pending >= _limits.MaxPendingPerAddress)
                    refusal = LimitKind.PendingHandshakesPerAddress;
                else
                    return Open(bucket);
            }
            else
                return Open(bucket);
            return null;
        }
    }

    private InboundSlot Open(AddressBucket? bucket)
    {
        _inbound++;
        _pending++;
        if (bucket is { } key)
            CollectionsMarshal.GetValueRefOrAddDefault(_perAddress, key, out _).Pending++;
        return new InboundSlot(this, bucket);
    }

    internal void HandshakeDone(InboundSlot slot)
    {
        lock (_gate)
        {
            if (slot.State != InboundSlot.Phase.Handshake)
                return;
            slot.State = InboundSlot.Phase.Open;
            _pending--;
            if (slot.Bucket is { } key)
            {
                ref Usage usage = ref CollectionsMarshal.GetValueRefOrNullRef(_perAddress, key);
                usage.Pending--;
                usage.Open++;
            }
        }
    }

    internal void Release(InboundSlot slot)
    {
        lock (_gate)
        {
            InboundSlot.Phase phase = slot.State;
            if (phase == InboundSlot.Phase.Released)
                return;
            slot.State = InboundSlot.Phase.Released;
            _inbound--;
            if (phase == InboundSlot.Phase.Handshake)
                _pending--;
            if (slot.Bucket is { } key)
            {
                ref Usage usage = ref CollectionsMarshal.GetValueRefOrNullRef(_perAddress, key);
                if (phase == InboundSlot.Phase.Handshake)
                    usage.Pending--;
                else
                    usage.Open--;
                if (usage.Open == 0 && usage.Pending == 0)
                    _perAddress.Remove(key);
            }
        }
    }

    private struct Usage
    {
        public int Open;
        public int Pending;
    }
}

/// <summary>One inbound connection counted by a <see cref="ConnectionLimiter"/>; releasing it twice is harmless.</summary>
internal sealed class InboundSlot
{
    private readonly ConnectionLimiter _limiter;

    internal InboundSlot(ConnectionLimiter limiter, AddressBucket? bucket)
    {
        _limiter = limiter;
        Bucket = bucket;
    }

    internal enum Phase
    {
        Handshake,
        Open,
        Released,
    }

    /// <summary>Null for an address exempt from the per-address limits.</summary>
    public AddressBucket? Bucket { get; }

    internal Phase State { get; set; }   // guarded by the limiter's lock

    /// <summary>The handshake finished: the connection no longer counts as pending.</summary>
    public void HandshakeDone() => _limiter.HandshakeDone(this);

    public void Release() => _limiter.Release(this);
}
