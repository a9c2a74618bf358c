using System.Buffers.Binary;

namespace Echo.Net.Pubsub;

/// <summary>
/// Message id functions. Every node on a topic must use the same one, or IHAVE/IWANT/IDONTWANT ids
/// do not match across nodes (mesh forwarding still works; gossip does not).
/// </summary>
public static class PubsubMessageIds
{
    /// <summary>
    /// <c>from || seqno</c>: the pubsub spec's and go-libp2p-pubsub's default (DefaultMsgIdFn), and ours.
    /// </summary>
    public static byte[] FromAndSeqno(PubsubMessage message)
    {
        ReadOnlySpan<byte> from = message.From.Bytes;
        byte[] id = new byte[from.Length + PubsubMessage.SeqnoLength];
        from.CopyTo(id);
        BinaryPrimitives.WriteUInt64BigEndian(id.AsSpan(from.Length), message.Seqno);
        return id;
    }

    /// <summary>
    /// <c>encoded public key || seqno</c>: js-libp2p gossipsub's StrictSign default since js-libp2p 2.x
    /// (<c>msgIdFnStrictSign</c> in @libp2p/gossipsub). For an Ed25519 author this is <c>from</c> without
    /// its two-byte identity-multihash prefix, followed by the seqno. Use it in networks with js nodes.
    /// </summary>
    public static byte[] KeyAndSeqno(PubsubMessage message)
    {
        ReadOnlySpan<byte> key = message.PublicKey.EncodedSpan;
        byte[] id = new byte[key.Length + PubsubMessage.SeqnoLength];
        key.CopyTo(id);
        BinaryPrimitives.WriteUInt64BigEndian(id.AsSpan(key.Length), message.Seqno);
        return id;
    }
}
