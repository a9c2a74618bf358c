using Echo.Core.Direct;

namespace Echo.Core.Files;

/// <summary>A file someone offers: what a recipient needs to fetch it with /get and to verify it.</summary>
/// <param name="Id">The offer's id (see <see cref="DirectIds"/>); the sender serves the file under it and nothing else.</param>
/// <param name="Name">The name as the sender gave it; sanitized (<see cref="SafeFileName"/>) before it touches a disk.</param>
/// <param name="Size">The exact size in bytes.</param>
/// <param name="Sha256">The SHA-256 of the content, 64 lowercase hex digits.</param>
public sealed record FileOffer(string Id, string Name, long Size, string Sha256)
{
    /// <summary>Longest name accepted from the network (in UTF-16 units); it is shortened on disk anyway.</summary>
    public const int MaxNameLength = 16 * 1024;

    /// <summary>Most addresses an offer carries; the network drops any beyond.</summary>
    public const int MaxAddresses = 8;

    /// <summary>Longest address an offer may carry (in characters); longer ones are dropped.</summary>
    public const int MaxAddressLength = 256;

    /// <summary>
    /// Where the offerer listens (multiaddrs without <c>/p2p/</c>), as its signed offer states them:
    /// /get dials these first when it is not connected to the offerer. Null when the offer named none
    /// (an older sender, or our own offer before the network adds our addresses).
    /// </summary>
    public IReadOnlyList<string>? Addresses { get; init; }

    /// <summary>Equal when every field is, the addresses compared in order.</summary>
    public bool Equals(FileOffer? other) =>
        other is not null && Id == other.Id && Name == other.Name && Size == other.Size && Sha256 == other.Sha256
        && (Addresses ?? []).SequenceEqual(other.Addresses ?? []);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Id, Name, Size, Sha256);

    /// <summary>Null when the offer is well formed, else why not.</summary>
    public string? Problem() =>
        !DirectIds.IsValid(Id) ? "bad offer id"
        : Name.Length == 0 ? "empty file name"
        : Name.Length > MaxNameLength ? $"file name longer than {MaxNameLength} characters"
        : Size < 0 ? "negative size"
        : Sha256.Length != 64 || !Sha256.All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f') ? "bad SHA-256"
        : null;
}

/// <summary>A file we offered, as the sender keeps it: where it is and what it looked like when offered.</summary>
/// <param name="Offer">The offer as announced.</param>
/// <param name="Path">The full path of the file on this machine; never sent.</param>
/// <param name="LastWriteUtc">Its modification time when offered: a changed file is no longer served.</param>
/// <param name="To">The one peer it was offered to, or null for a room offer (any peer with the id may fetch it).</param>
public sealed record OfferedFile(FileOffer Offer, string Path, DateTime LastWriteUtc, string? To);

/// <summary>An offer a peer made to us, and how far it got.</summary>
/// <param name="Offer">The offer.</param>
/// <param name="FromPeerId">Who offered it.</param>
/// <param name="FromNick">Their nick when they offered it.</param>
/// <param name="Room">The room it was offered in, or null for an offer to us alone (or one resumed after a restart).</param>
/// <param name="Received">When this node learned of it.</param>
/// <param name="Downloading">True while /get is fetching it.</param>
/// <param name="SavedAs">Where the verified file was put, once it was.</param>
public sealed record KnownFileOffer(FileOffer Offer, string FromPeerId, string FromNick, string? Room, DateTimeOffset Received, bool Downloading,
    string? SavedAs);
