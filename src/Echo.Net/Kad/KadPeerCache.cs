using System.Text.Json;
using Echo.Net.Identity;
using Echo.Net.IO;
using Echo.Net.Multiformats;

namespace Echo.Net.Kad;

/// <summary>
/// The DHT servers that answered us, with their addresses, so a restart can rejoin the DHT when
/// the bootstrap peers are gone: a small owner-only JSON file, replaced whole. Bounded on read
/// and write (<see cref="KadOptions.MaxCachedPeers"/> peers, <see cref="MaxAddresses"/> each).
/// </summary>
internal static class KadPeerCache
{
    /// <summary>Addresses kept per peer.</summary>
    public const int MaxAddresses = 4;

    /// <summary>A larger file is not read (it cannot be one we wrote).</summary>
    public const int MaxFileBytes = 256 * 1024;

    private const int FormatVersion = 1;

    /// <summary>The peers in <paramref name="path"/>; empty when there is none; <paramref name="problem"/> says why a file was not used.</summary>
    public static List<KadPeer> Load(string path, int maxPeers, out string? problem)
    {
        problem = null;
        List<KadPeer> peers = [];
        try
        {
            FileInfo file = new(path);
            if (!file.Exists)
                return peers;
            if (file.Length > MaxFileBytes)
            {
                problem = $"{path} is {file.Length} bytes, more than a DHT peer cache can be; starting without it";
                return peers;
            }
            using JsonDocument document = JsonDocument.Parse(File.ReadAllBytes(path));
            JsonElement root = document.RootElement;
            if (root.GetProperty("version").GetInt32() != FormatVersion)
                throw new FormatException("unknown DHT peer cache version");
            foreach (JsonElement item in root.GetProperty("peers").EnumerateArray())
            {
                if (peers.Count >= maxPeers)
                    break;
                if (!PeerId.TryParse(item.GetProperty("id").GetString(), out PeerId? peer) || peer is null)
                    continue;
                List<Multiaddr> addresses = [];
                foreach (JsonElement value in item.GetProperty("addrs").EnumerateArray())
                {
                    if (addresses.Count == MaxAddresses)
                        break;
                    if (value.ValueKind == JsonValueKind.String && Multiaddr.TryParse(value.GetString(), out Multiaddr? address, out _)
                        && address is not null && address.PeerId is null && DnsAddr.DnsAddrResolver.IsDialable(address))
                        addresses.Add(address);
                }
                if (addresses.Count > 0)
                    peers.Add(new KadPeer(peer, addresses));
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or FormatException
            or KeyNotFoundException or InvalidOperationException)
        {
            peers.Clear();
            problem = $"cannot read {path} ({e.Message}); starting without it";
        }
        return peers;
    }

    /// <summary>Writes <paramref name="peers"/> (those with addresses, at most <paramref name="maxPeers"/>) to <paramref name="path"/>.</summary>
    /// <exception cref="IOException">The file could not be written.</exception>
    public static Task SaveAsync(string path, IEnumerable<KadPeer> peers, int maxPeers, CancellationToken cancellationToken)
    {
        using MemoryStream buffer = new();
        using (Utf8JsonWriter w = new(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteNumber("version", FormatVersion);
            w.WriteStartArray("peers");
            foreach (KadPeer peer in peers.Where(p => p.Addresses.Count > 0).Take(maxPeers))
            {
                w.WriteStartObject();
                w.WriteString("id", peer.Id.ToString());
                w.WriteStartArray("addrs");
                foreach (Multiaddr address in peer.Addresses.Take(MaxAddresses))
                    w.WriteStringValue(address.ToString());
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return OwnerOnlyFile.ReplaceAsync(path, buffer.ToArray(), cancellationToken);
    }
}
