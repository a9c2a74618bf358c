using System.Text.Json;
using Echo.Core.Chat;
using Echo.Net.Identity;
using Echo.Net.IO;
using Echo.Net.Multiformats;

namespace Echo.Protocols.Peers;

/// <summary>
/// The peers we were connected to, each with when we first and last saw it, the last nick it announced (in
/// its signed profile) and the addresses to dial it at:
/// first those a dial of ours succeeded at (newest first), then those its identify reported. Kept
/// in memory and, with a file, on disk: a small JSON file written whole to a temporary file and
/// renamed over the old one (so a crash leaves the old or the new book), readable by the owner only.
/// Bounded: <see cref="MaxPeers"/> peers (the longest unseen go first), <see cref="MaxAddresses"/>
/// addresses each. Thread-safe.
/// </summary>
public sealed class PeerBook
{
    /// <summary>Peers remembered at most.</summary>
    public const int MaxPeers = 256;

    /// <summary>Addresses kept per peer.</summary>
    public const int MaxAddresses = 8;

    /// <summary>A book file larger than this is not read (it cannot be one we wrote).</summary>
    public const int MaxFileBytes = 1 << 20;

    private const int FormatVersion = 1;

    private readonly Lock _gate = new();
    private readonly Dictionary<PeerId, Entry> _peers = [];
    private readonly string? _path;
    private readonly SemaphoreSlim _saving = new(1, 1);

    private sealed class Entry
    {
        public DateTimeOffset LastSeen { get; set; }
        public DateTimeOffset? FirstSeen { get; set; }
        public List<Multiaddr> Dialed { get; } = [];
        public List<Multiaddr> Reported { get; set; } = [];
        public string? Nick { get; set; }
    }

    private PeerBook(string? path) => _path = path;

    /// <summary>A book kept in memory only.</summary>
    public static PeerBook InMemory() => new(null);

    /// <summary>
    /// The book in <paramref name="path"/> (empty when the file does not exist yet). A file that
    /// cannot be read as a book is reported through <paramref name="problem"/> and replaced at the
    /// next save; a file readable by others is made owner-only.
    /// </summary>
    public static PeerBook Open(string path, out string? problem)
    {
        PeerBook book = new(path);
        problem = null;
        try
        {
            FileInfo file = new(path);
            if (!file.Exists)
                return book;
            if (!OperatingSystem.IsWindows() && (file.UnixFileMode & ~(UnixFileMode.UserRead | UnixFileMode.UserWrite)) != 0)
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            if (file.Length > MaxFileBytes)
            {
                problem = $"{path} is {file.Length} bytes, more than a peer book can be; starting with no remembered peers";
                return book;
            }
            book.Load(File.ReadAllBytes(path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or FormatException or ArgumentException
            or KeyNotFoundException or InvalidOperationException)
        {
            book._peers.Clear();
            problem = $"cannot read {path} ({e.Message}); starting with no remembered peers";
        }
        return book;
    }

    /// <summary>Remembered peers.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
                return _peers.Count;
        }
    }

    /// <summary>Every remembered peer with when it was last seen.</summary>
    public IReadOnlyList<(PeerId Peer, DateTimeOffset LastSeen)> Peers
    {
        get
        {
            lock (_gate)
                return [.. _peers.Select(p => (p.Key, p.Value.LastSeen))];
        }
    }

    /// <summary>Whether <paramref name="peer"/> is remembered.</summary>
    public bool Contains(PeerId peer)
    {
        lock (_gate)
            return _peers.ContainsKey(peer);
    }

    /// <summary>When <paramref name="peer"/> was last seen; null when it is not remembered.</summary>
    public DateTimeOffset? LastSeen(PeerId peer)
    {
        lock (_gate)
            return _peers.TryGetValue(peer, out Entry? entry) ? entry.LastSeen : null;
    }

    /// <summary>When <paramref name="peer"/> was first remembered; null when it is not remembered or its entry is older than this field.</summary>
    public DateTimeOffset? FirstSeen(PeerId peer)
    {
        lock (_gate)
            return _peers.TryGetValue(peer, out Entry? entry) ? entry.FirstSeen : null;
    }

    /// <summary>The addresses to dial <paramref name="peer"/> at, best first, without /p2p/; empty when it is not remembered.</summary>
    public IReadOnlyList<Multiaddr> Addresses(PeerId peer)
    {
        lock (_gate)
            return _peers.TryGetValue(peer, out Entry? entry) ? [.. entry.Dialed.Concat(entry.Reported).Distinct().Take(MaxAddresses)] : [];
    }

    /// <summary>Whether a dial of ours ever reached <paramref name="peer"/> (it has an address from such a dial).</summary>
    public bool WasDialed(PeerId peer)
    {
        lock (_gate)
            return _peers.TryGetValue(peer, out Entry? entry) && entry.Dialed.Count > 0;
    }

    /// <summary>The last nick <paramref name="peer"/> announced; null when none is known or it is not remembered.</summary>
    public string? Nick(PeerId peer)
    {
        lock (_gate)
            return _peers.TryGetValue(peer, out Entry? entry) ? entry.Nick : null;
    }

    /// <summary>
    /// Keeps <paramref name="nick"/>, verified as announced by <paramref name="peer"/> itself, if the
    /// peer is remembered and the nick is valid; returns whether the book changed.
    /// </summary>
    public bool Announced(PeerId peer, string nick)
    {
        if (ChatLimits.CheckNick(nick) is not null)
            return false;
        lock (_gate)
        {
            if (!_peers.TryGetValue(peer, out Entry? entry) || entry.Nick == nick)
                return false;
            entry.Nick = nick;
            return true;
        }
    }

    /// <summary>
    /// Remembers that <paramref name="peer"/> is connected at <paramref name="now"/>; with
    /// <paramref name="dialed"/>, the address our dial to it succeeded at.
    /// </summary>
    public void Seen(PeerId peer, DateTimeOffset now, Multiaddr? dialed = null)
    {
        lock (_gate)
        {
            Entry entry = GetOrAddLocked(peer, now);
            entry.LastSeen = now;
            if (dialed is not null && IsDialable(dialed.WithoutPeerId()) is { } address)
            {
                entry.Dialed.Remove(address);
                entry.Dialed.Insert(0, address);
                if (entry.Dialed.Count > MaxAddresses)
                    entry.Dialed.RemoveAt(entry.Dialed.Count - 1);
            }
        }
    }

    /// <summary>Keeps the listen addresses <paramref name="peer"/>'s identify reported (replacing the earlier report) if it is remembered.</summary>
    public void Reported(PeerId peer, IEnumerable<Multiaddr> addresses)
    {
        lock (_gate)
        {
            if (_peers.TryGetValue(peer, out Entry? entry))
                entry.Reported = [.. addresses.Select(a => IsDialable(a.WithoutPeerId())).OfType<Multiaddr>().Distinct().Take(MaxAddresses)];
        }
    }

    /// <summary>Forgets <paramref name="peer"/>; returns whether it was remembered.</summary>
    public bool Forget(PeerId peer)
    {
        lock (_gate)
            return _peers.Remove(peer);
    }

    /// <summary>Forgets the peers last seen before <paramref name="cutoff"/> (except those in <paramref name="keep"/>) and returns them.</summary>
    public IReadOnlyList<PeerId> Expire(DateTimeOffset cutoff, Func<PeerId, bool> keep)
    {
        lock (_gate)
        {
            PeerId[] expired = [.. _peers.Where(p => p.Value.LastSeen < cutoff && !keep(p.Key)).Select(p => p.Key)];
            foreach (PeerId peer in expired)
                _peers.Remove(peer);
            return expired;
        }
    }

    /// <summary>Writes the book to its file (nothing for an in-memory book). One save at a time, so the last one wins.</summary>
    /// <exception cref="IOException">The file could not be written.</exception>
    public async Task SaveAsync(CancellationToken cancellationToken)
    {
        if (_path is null)
            return;
        await _saving.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await OwnerOnlyFile.ReplaceAsync(_path, Serialize(), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _saving.Release();
        }
    }

    private Entry GetOrAddLocked(PeerId peer, DateTimeOffset now)
    {
        if (_peers.TryGetValue(peer, out Entry? entry))
            return entry;
        if (_peers.Count >= MaxPeers)
            _peers.Remove(_peers.MinBy(p => p.Value.LastSeen).Key);
        entry = new Entry { FirstSeen = now };
        _peers[peer] = entry;
        return entry;
    }

    /// <summary>A TCP address with a concrete host and port, or null (unspecified addresses and port 0 cannot be dialed).</summary>
    private static Multiaddr? IsDialable(Multiaddr address)
    {
        if (address.TryGetTcpEndPoint(out System.Net.IPEndPoint? endPoint) && endPoint is not null)
        {
            bool unspecified = endPoint.Address.Equals(System.Net.IPAddress.Any) || endPoint.Address.Equals(System.Net.IPAddress.IPv6Any);
            return unspecified || endPoint.Port == 0 ? null : address;
        }
        return address.TryGetDnsTcp(out _, out int port, out _) && port != 0 ? address : null;
    }

    private byte[] Serialize()
    {
        using MemoryStream buffer = new();
        using (Utf8JsonWriter w = new(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteNumber("version", FormatVersion);
            w.WriteStartArray("peers");
            lock (_gate)
            {
                foreach ((PeerId peer, Entry entry) in _peers)
                {
                    w.WriteStartObject();
                    w.WriteString("id", peer.ToString());
                    w.WriteString("lastSeen", entry.LastSeen.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture));
                    if (entry.FirstSeen is { } firstSeen)
                        w.WriteString("firstSeen", firstSeen.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture));
                    if (entry.Nick is not null)
                        w.WriteString("nick", entry.Nick);
                    w.WriteStartArray("dialed");
                    foreach (Multiaddr address in entry.Dialed)
                        w.WriteStringValue(address.ToString());
                    w.WriteEndArray();
                    w.WriteStartArray("reported");
                    foreach (Multiaddr address in entry.Reported)
                        w.WriteStringValue(address.ToString());
                    w.WriteEndArray();
                    w.WriteEndObject();
                }
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }

    private void Load(byte[] bytes)
    {
        using JsonDocument document = JsonDocument.Parse(bytes);
        JsonElement root = document.RootElement;
        if (root.GetProperty("version").GetInt32() != FormatVersion)
            throw new FormatException($"unknown peer book version {root.GetProperty("version").GetInt32()}");
        foreach (JsonElement item in root.GetProperty("peers").EnumerateArray())
        {
            if (_peers.Count >= MaxPeers)
                break;
            if (!PeerId.TryParse(item.GetProperty("id").GetString() ?? "", out PeerId? peer) || peer is null)
                continue;
            Entry entry = new()
            {
                LastSeen = DateTimeOffset.Parse(item.GetProperty("lastSeen").GetString() ?? "", System.Globalization.CultureInfo.InvariantCulture,
                    System.Globalization.DateTimeStyles.AssumeUniversal),
            };
            if (item.TryGetProperty("firstSeen", out JsonElement first) && first.ValueKind == JsonValueKind.String
                && DateTimeOffset.TryParse(first.GetString(), System.Globalization.CultureInfo.InvariantCulture,
                    System.Globalization.DateTimeStyles.AssumeUniversal, out DateTimeOffset firstSeen))
                entry.FirstSeen = firstSeen;   // optional (books written before it lack it); a bad one is dropped
            if (item.TryGetProperty("nick", out JsonElement nick) && nick.ValueKind == JsonValueKind.String
                && nick.GetString() is { } text && ChatLimits.CheckNick(text) is null)
                entry.Nick = text;       // an invalid nick is dropped, the peer kept
            entry.Dialed.AddRange(ReadAddresses(item, "dialed"));
            entry.Reported = [.. ReadAddresses(item, "reported")];
            _peers[peer] = entry;
        }
    }

    private static IEnumerable<Multiaddr> ReadAddresses(JsonElement item, string name)
    {
        if (!item.TryGetProperty(name, out JsonElement list) || list.ValueKind != JsonValueKind.Array)
            yield break;
        int count = 0;
        foreach (JsonElement value in list.EnumerateArray())
        {
            if (count == MaxAddresses)
                yield break;
            if (value.ValueKind == JsonValueKind.String && Multiaddr.TryParse(value.GetString()!, out Multiaddr? address, out _)
                && IsDialable(address!.WithoutPeerId()) is { } dialable)
            {
                count++;
                yield return dialable;
            }
        }
    }
}
