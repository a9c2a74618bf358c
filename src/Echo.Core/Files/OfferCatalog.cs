namespace Echo.Core.Files;

/// <summary>
/// The offers peers made to us, in the order they arrived, for /get and /files: who made each,
/// where, and where the verified file was saved. The oldest heard offers are forgotten beyond
/// <see cref="FileSharingOptions.MaxKnownOffers"/>, except one being downloaded. Not thread-safe:
/// called under the owner's lock (the owner also keeps the downloads it checks against).
/// </summary>
internal sealed class OfferCatalog(int capacity)
{
    // By id, in arrival order. Downloading is always false here: the owner knows what runs.
    private readonly OrderedDictionary<string, KnownFileOffer> _known = new(StringComparer.Ordinal);
    // The ids heard from the network, oldest first: the ones forgotten beyond the capacity.
    private readonly Queue<string> _heard = new();

    /// <summary>
    /// Remembers an offer heard from <paramref name="peerId"/>; false for an id already known. The
    /// oldest heard offers are then forgotten down to the capacity, except those
    /// <paramref name="downloading"/> says are running (they are not looked at again).
    /// </summary>
    public bool Add(FileOffer offer, string peerId, string nick, string? room, DateTimeOffset received, Func<string, bool> downloading)
    {
        if (!_known.TryAdd(offer.Id, new KnownFileOffer(offer, peerId, nick, room, received, Downloading: false, SavedAs: null)))
            return false;
        _heard.Enqueue(offer.Id);
        while (_known.Count > capacity && _heard.TryDequeue(out string? oldest))
        {
            if (!downloading(oldest))
                _known.Remove(oldest);
        }
        return true;
    }

    /// <summary>
    /// Remembers the offer of a download a previous run left unfinished, as the newest; it is never
    /// forgotten for the capacity.
    /// </summary>
    public void Restore(PendingDownload pending, DateTimeOffset received)
    {
        _known.Remove(pending.Offer.Id);
        _known.Add(pending.Offer.Id, new KnownFileOffer(pending.Offer, pending.PeerId, pending.Nick, null, received, Downloading: false,
            SavedAs: null));
    }

    /// <summary>The offer known as <paramref name="id"/>, or null.</summary>
    public KnownFileOffer? Find(string id) => _known.GetValueOrDefault(id);

    /// <summary>Notes where the verified file of offer <paramref name="id"/> was put.</summary>
    public void Saved(string id, string path)
    {
        if (_known.TryGetValue(id, out KnownFileOffer? known))
            _known[id] = known with { SavedAs = path };
    }

    /// <summary>The ids of the offers known, in arrival order.</summary>
    public IEnumerable<string> Ids => _known.Keys;

    /// <summary>Every offer known, oldest first, with <see cref="KnownFileOffer.Downloading"/> from <paramref name="downloading"/>.</summary>
    public List<KnownFileOffer> List(Func<string, bool> downloading) =>
        [.. _known.Values.Select(k => k with { Downloading = downloading(k.Offer.Id) })];

    /// <summary>The addresses the newest offer of <paramref name="peerId"/> named, or none.</summary>
    public IReadOnlyList<string> AddressesOf(string peerId)
    {
        for (int i = _known.Count - 1; i >= 0; i--)
        {
            KnownFileOffer known = _known.GetAt(i).Value;
            if (known.FromPeerId == peerId && known.Offer.Addresses is { Count: > 0 } addresses)
                return addresses;
        }
        return [];
    }

    /// <summary>
    /// The ids among <paramref name="ids"/> that start with <paramref name="prefix"/> (case aside);
    /// none for a prefix under 4 digits.
    /// </summary>
    public static string[] Matching(IEnumerable<string> ids, string prefix) =>
        prefix.Length >= 4 ? [.. ids.Where(k => k.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))] : [];
}
