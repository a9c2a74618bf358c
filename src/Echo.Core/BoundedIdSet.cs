namespace Echo.Core;

/// <summary>A set that remembers the last <c>capacity</c> ids added, forgetting the oldest first.</summary>
internal sealed class BoundedIdSet(int capacity)
{
    private readonly HashSet<string> _ids = new(StringComparer.Ordinal);
    private readonly Queue<string> _order = new();

    /// <summary>Adds <paramref name="id"/>; false when it was already there.</summary>
    public bool Add(string id)
    {
        if (!_ids.Add(id))
            return false;
        _order.Enqueue(id);
        if (_order.Count > capacity)
            _ids.Remove(_order.Dequeue());
        return true;
    }

    public bool Contains(string id) => _ids.Contains(id);
}
