using Echo.Net.Identity;

namespace Echo.Net.Pubsub;

/// <summary>
/// Authors whose <c>from</c> (and <c>key</c>, when sent) already decoded to a peer id and a matching
/// public key, so that each message of a known author skips decoding both again. Direct-mapped by a
/// hash of <c>from</c>: a new author takes its slot, nothing grows. Safe to share between threads:
/// entries are immutable and a slot is replaced whole.
/// </summary>
internal sealed class AuthorCache
{
    private const int Slots = 64;

    private readonly Entry?[] _entries = new Entry?[Slots];

    /// <summary>The author sending exactly these <c>from</c> and <c>key</c> bytes, if seen before.</summary>
    public Entry? Find(ReadOnlySpan<byte> from, bool hasKey, ReadOnlySpan<byte> key)
    {
        Entry? entry = Volatile.Read(ref _entries[Slot(from)]);
        if (entry is null || !from.SequenceEqual(entry.FromBytes) || hasKey != entry.KeyBytes is not null)
            return null;
        return !hasKey || key.SequenceEqual(entry.KeyBytes) ? entry : null;
    }

    /// <summary>Remembers an author whose <c>from</c> and <c>key</c> were checked.</summary>
    public void Add(ReadOnlySpan<byte> from, bool hasKey, ReadOnlySpan<byte> key, PeerId peerId, PublicKey publicKey) =>
        Volatile.Write(ref _entries[Slot(from)], new Entry(from.ToArray(), hasKey ? key.ToArray() : null, peerId, publicKey));

    private static int Slot(ReadOnlySpan<byte> from)
    {
        HashCode hash = new();
        hash.AddBytes(from);
        return hash.ToHashCode() & (Slots - 1);
    }

    internal sealed record Entry(byte[] FromBytes, byte[]? KeyBytes, PeerId From, PublicKey PublicKey);
}
