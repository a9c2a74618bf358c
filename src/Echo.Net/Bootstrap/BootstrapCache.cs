using System.Globalization;
using System.Text.Json;
using Echo.Net.Identity;
using Echo.Net.IO;
using Echo.Net.Multiformats;

namespace Echo.Net.Bootstrap;

/// <summary>
/// The addresses at which bootstrap peers were reached, newest first, so a node whose bootstrap
/// names do not resolve (DNS down, list withdrawn) can still dial the peers it knew. A small JSON
/// file written whole to a temporary file and renamed over the old one, owner-only. Bounded:
/// <see cref="MaxPeers"/> peers (the longest unreached go first), <see cref="MaxAddresses"/> each.
/// Thread-safe.
/// </summary>
public sealed class BootstrapCache
{
    /// <summary>Peers kept at most.</summary>
    public const int MaxPeers = 32;

    /// <summary>Addresses kept per peer.</summary>
    public const int MaxAddresses = 4;

    /// <summary>A file larger than this is not read (it cannot be one we wrote).</summary>
    public const int MaxFileBytes = 64 * 1024;

    private const int FormatVersion = 1;

    private readonly Lock _gate = new();
    private readonly Dictionary<PeerId, Entry> _peers = [];
    private readonly string? _path;
    private readonly SemaphoreSlim _saving = new(1, 1);

    private sealed class Entry
    {
        public DateTimeOffset LastReached { get; set; }
        public string? NamedBy { get; set; }
        public List<Multiaddr> Addresses { get; } = [];
    }

    private BootstrapCache(string? path) => _path = path;

    /// <summary>A cache kept in memory only.</summary>
    public static BootstrapCache InMemory() => new(null);

    /// <summary>
    /// The cache in <paramref name="path"/> (empty when there is no file yet). A file that cannot be
    /// read is reported through <paramref name="problem"/> and replaced at the next save.
    /// </summary>
    public static BootstrapCache Open(string path, out string? problem)
    {
        BootstrapCache cache = new(path);
        problem = null;
        try
        {
            FileInfo file = new(path);
            if (!file.Exists)
                return cache;
            if (file.Length > MaxFileBytes)
            {
                problem = $"{path} is {file.Length} bytes, more than a bootstrap cache can be; starting without it";
                return cache;
            }
            cache.Load(File.ReadAllBytes(path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or FormatException or KeyNotFoundException
            or InvalidOperationException)
        {
            cache._peers.Clear();
            problem = $"cannot read {path} ({e.Message}); starting without it";
        }
        return cache;
    }

    /// <summary>Peers with remembered addresses.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
                return _peers.Count;
        }
    }

    /// <summary>Where <paramref name="peer"/> was reached, newest first, without <c>/p2p</c>; empty when unknown.</summary>
    public IReadOnlyList<Multiaddr> Addresses(PeerId peer)
    {
        lock (_gate)
            return _peers.TryGetValue(peer, out Entry? entry) ? [.. entry.Addresses] : [];
    }

    /// <summary>The peers reached through the bare <c>/dnsaddr</c> name <paramref name="name"/>.</summary>
    public IReadOnlyList<PeerId> NamedBy(string name)
    {
        lock (_gate)
            return [.. _peers.Where(p => p.Value.NamedBy == name).Select(p => p.Key)];
    }

    /// <summary>
    /// Remembers that a dial reached <paramref name="peer"/> at <paramref name="address"/> at
    /// <paramref name="now"/>; <paramref name="namedBy"/> is the bare <c>/dnsaddr</c> name that led to it, if any.
    /// </summary>
    public void Reached(PeerId peer, Multiaddr address, DateTimeOffset now, string? namedBy = null)
    {
        Multiaddr bare = address.WithoutPeerId();
        if (!DnsAddr.DnsAddrResolver.IsDialable(bare))
            return;
        lock (_gate)
        {
            if (!_peers.TryGetValue(peer, out Entry? entry))
            {
                if (_peers.Count >= MaxPeers)
                    _peers.Remove(_peers.MinBy(p => p.Value.LastReached).Key);
                entry = new Entry();
                _peers[peer] = entry;
            }
            entry.LastReached = now;
            entry.NamedBy = namedBy ?? entry.NamedBy;
            entry.Addresses.Remove(bare);
            entry.Addresses.Insert(0, bare);
            if (entry.Addresses.Count > MaxAddresses)
                entry.Addresses.RemoveAt(entry.Addresses.Count - 1);
        }
    }

    /// <summary>Writes the cache to its file (nothing for an in-memory one); one save at a time.</summary>
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
                    w.WriteString("lastReached", entry.LastReached.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
                    if (entry.NamedBy is not null)
                        w.WriteString("namedBy", entry.NamedBy);
                    w.WriteStartArray("addrs");
                    foreach (Multiaddr address in entry.Addresses)
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
        int version = root.GetProperty("version").GetInt32();
        if (version != FormatVersion)
            throw new FormatException($"unknown bootstrap cache version {version}");
        foreach (JsonElement item in root.GetProperty("peers").EnumerateArray())
        {
            if (_peers.Count >= MaxPeers)
                break;
            if (!PeerId.TryParse(item.GetProperty("id").GetString() ?? "", out PeerId? peer) || peer is null)
                continue;
            Entry entry = new()
            {
                LastReached = DateTimeOffset.Parse(item.GetProperty("lastReached").GetString() ?? "", CultureInfo.InvariantCulture,
                    DateTimeStyles.AssumeUniversal),
            };
            if (item.TryGetProperty("namedBy", out JsonElement namedBy) && namedBy.ValueKind == JsonValueKind.String
                && Multiaddr.TryParse(namedBy.GetString(), out Multiaddr? name, out _) && name is not null)
                entry.NamedBy = name.ToString();
            foreach (JsonElement value in item.GetProperty("addrs").EnumerateArray())
            {
                if (entry.Addresses.Count == MaxAddresses)
                    break;
                if (value.ValueKind == JsonValueKind.String && Multiaddr.TryParse(value.GetString(), out Multiaddr? address, out _)
                    && address is not null && DnsAddr.DnsAddrResolver.IsDialable(address) && address.PeerId is null)
                    entry.Addresses.Add(address);
            }
            if (entry.Addresses.Count > 0)
                _peers[peer] = entry;
        }
    }
}
