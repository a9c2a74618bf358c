using Echo.Net.Identity;

namespace Echo.Net.ResourceManager;

/// <summary>Counts the inbound streams each peer has open per protocol, against a limit given per protocol.</summary>
internal sealed class StreamLimiter
{
    private readonly Lock _gate = new();
    private readonly Dictionary<(PeerId Peer, string Protocol), int> _open = [];
    private int _total;

    /// <summary>Inbound streams being served.</summary>
    public int Total
    {
        get
        {
            lock (_gate)
                return _total;
        }
    }

    /// <summary>Peer and protocol pairs with at least one stream (entries go with their last stream).</summary>
    public int Entries
    {
        get
        {
            lock (_gate)
                return _open.Count;
        }
    }

    /// <summary>Counts one more stream of <paramref name="protocol"/> from <paramref name="peer"/>, or returns false at <paramref name="limit"/>.</summary>
    public bool TryAcquire(PeerId peer, string protocol, int limit)
    {
        lock (_gate)
        {
            int open = _open.GetValueOrDefault((peer, protocol));
            if (open >= limit)
                return false;
            _open[(peer, protocol)] = open + 1;
            _total++;
            return true;
        }
    }

    public void Release(PeerId peer, string protocol)
    {
        lock (_gate)
        {
            if (!_open.TryGetValue((peer, protocol), out int open))
                return;
            _total--;
            if (open <= 1)
                _open.Remove((peer, protocol));
            else
                _open[(peer, protocol)] = open - 1;
        }
    }
}
