using System.Security.Cryptography;
using System.Text;
using Echo.Net.Identity;

namespace Echo.Protocols.Discovery;

/// <summary>
/// The DHT keys Echo provides: the sha2-256 multihash (<c>0x12 0x20</c> then the digest) of
/// <c>echo-chat/room/v1/&lt;room&gt;</c> for a room (the name as the chat uses it, without '#') and
/// of <c>echo-chat/peer/v1/&lt;peer id&gt;</c> for a peer's presence. A multihash, so js and go
/// servers accept it and a CIDv0 or CIDv1-raw of the same digest meets it.
/// </summary>
public static class DiscoveryKeys
{
    /// <summary>The text a room key is the hash of, before the room name.</summary>
    public const string RoomPrefix = "echo-chat/room/v1/";

    /// <summary>The text a presence key is the hash of, before the peer id.</summary>
    public const string PeerPrefix = "echo-chat/peer/v1/";

    /// <summary>The key of <paramref name="room"/>.</summary>
    public static byte[] Room(string room) => Sha256Multihash(Encoding.UTF8.GetBytes(RoomPrefix + room));

    /// <summary>The presence key of <paramref name="peer"/>.</summary>
    public static byte[] Peer(PeerId peer) => Sha256Multihash(Encoding.UTF8.GetBytes(PeerPrefix + peer));

    /// <summary>The sha2-256 multihash of <paramref name="data"/>: 0x12, 0x20, then the 32-byte digest.</summary>
    public static byte[] Sha256Multihash(ReadOnlySpan<byte> data)
    {
        byte[] result = new byte[2 + SHA256.HashSizeInBytes];
        result[0] = 0x12;
        result[1] = SHA256.HashSizeInBytes;
        SHA256.HashData(data, result.AsSpan(2));
        return result;
    }
}
