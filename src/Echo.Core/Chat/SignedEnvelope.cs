namespace Echo.Core.Chat;

/// <summary>
/// A room message as its author signed it, kept opaque so Core needs no networking types: the
/// pubsub fields <c>from</c> (the author's peer id bytes), <c>seqno</c> (8 bytes), <c>data</c> (the
/// room JSON), <c>signature</c> and <c>key</c> (the author's encoded public key; empty when
/// <c>from</c> inlines it). The network adapter fills it and is the one that can check it again.
/// </summary>
public sealed record SignedEnvelope(byte[] From, byte[] Seqno, byte[] Data, byte[] Signature, byte[] Key)
{
    /// <summary>Bytes the envelope occupies on disk and on the wire, roughly.</summary>
    public int Size => From.Length + Seqno.Length + Data.Length + Signature.Length + Key.Length;
}
