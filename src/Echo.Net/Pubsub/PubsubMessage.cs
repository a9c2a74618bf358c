using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using Echo.Net.Identity;
using Google.Protobuf;

namespace Echo.Net.Pubsub;

/// <summary>
/// A signed pubsub message (StrictSign): who wrote it, its sequence number, topic, data and the
/// author's signature (https://github.com/libp2p/specs/blob/master/pubsub/README.md#message-signing).
/// </summary>
/// <remarks>
/// The signature covers <c>"libp2p-pubsub:" || Message{from=1, data=2, seqno=3, topic=4}</c>: the
/// protobuf encoding of those four fields only, in field order, absent ones omitted. <c>from</c> is the
/// author's peer id bytes; <c>key</c> carries the author's encoded public key when <c>from</c> does not
/// inline it (go) or always (js). Every <see cref="PubsubMessage"/> the router hands out has been
/// verified; <see cref="ToProtobuf"/> and <see cref="TryFromProtobuf"/> let a store keep a message and
/// check it again later, as does <see cref="Verify"/> from the separate fields.
/// </remarks>
public sealed class PubsubMessage
{
    /// <summary>The prefix of the signed bytes.</summary>
    public static ReadOnlySpan<byte> SignPrefix => "libp2p-pubsub:"u8;

    public const int SeqnoLength = 8;

    /// <summary>Longest topic accepted; far above any chat topic, far below what would cost memory.</summary>
    public const int MaxTopicLength = 1024;

    /// <summary>Ed25519 signatures have 64 bytes, RSA-4096 512; nothing legitimate is longer.</summary>
    public const int MaxSignatureLength = 1024;

    private byte[]? _encoded;

    private PubsubMessage(PeerId from, ulong seqno, string topic, ReadOnlyMemory<byte> data, bool hasData,
        ReadOnlyMemory<byte> signature, ReadOnlyMemory<byte>? key, PublicKey publicKey)
    {
        From = from;
        Seqno = seqno;
        Topic = topic;
        Data = data;
        HasData = hasData;
        Signature = signature;
        Key = key;
        PublicKey = publicKey;
    }

    /// <summary>The author (the <c>from</c> field), not necessarily the peer that forwarded it to us.</summary>
    public PeerId From { get; }

    /// <summary>The author's sequence number (8 bytes big-endian on the wire).</summary>
    public ulong Seqno { get; }

    public string Topic { get; }

    public ReadOnlyMemory<byte> Data { get; }

    public ReadOnlyMemory<byte> Signature { get; }

    /// <summary>The <c>key</c> field as sent (the author's encoded public key), or null when absent.</summary>
    public ReadOnlyMemory<byte>? Key { get; }

    /// <summary>The message id the router computed with its configured function (empty until routed).</summary>
    public ReadOnlyMemory<byte> Id { get; internal set; }

    /// <summary>The peer that handed us this copy; null for a message we published.</summary>
    public PeerId? ReceivedFrom { get; internal set; }

    /// <summary>
    /// What a topic validator made of this copy (e.g. its decoded payload), handed on with it to the
    /// subscribers so they need not decode it again; null when no validator set it (go-libp2p-pubsub's
    /// <c>ValidatorData</c>).
    /// </summary>
    public object? ValidatorData { get; set; }

    /// <summary>The author's key, from <see cref="Key"/> or extracted from <see cref="From"/>.</summary>
    internal PublicKey PublicKey { get; }

    /// <summary>Whether the <c>data</c> field was present (an empty one is still present).</summary>
    internal bool HasData { get; }

    public byte[] SeqnoBytes()
    {
        byte[] bytes = new byte[SeqnoLength];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, Seqno);
        return bytes;
    }

    /// <summary>The bytes the signature covers: <c>"libp2p-pubsub:" || Message{from, data, seqno, topic}</c>.</summary>
    internal byte[] GetSignedBytes()
    {
        byte[] rented = RentSignedBytes(From.Bytes, HasData ? Data.Span : default, HasData, SeqnoBytes(), Topic, out int length);
        byte[] signed = rented.AsSpan(0, length).ToArray();
        ArrayPool<byte>.Shared.Return(rented);
        return signed;
    }

    /// <summary>The whole <c>Message</c> as it travels (fields 1-6), suitable for <see cref="TryFromProtobuf"/>.</summary>
    internal byte[] ToProtobuf() => (byte[])Encoded.Clone();

    internal byte[] Encoded => _encoded ??= Encode();

    /// <summary>The wire <c>Message</c>, byte for byte what protobuf writes for <see cref="ToPb"/> (fields in order).</summary>
    private byte[] Encode()
    {
        byte[] seqno = SeqnoBytes();
        int size = SignedFieldsLength(From.Bytes.Length, Data.Length, HasData, Topic) + FieldLength(Signature.Length);
        if (Key is { } key)
            size += FieldLength(key.Length);
        byte[] bytes = new byte[size];
        int offset = WriteSignedFields(bytes, From.Bytes, HasData ? Data.Span : default, HasData, seqno, Topic);
        offset += WriteField(bytes.AsSpan(offset), 5, Signature.Span);
        if (Key is { } k)
            offset += WriteField(bytes.AsSpan(offset), 6, k.Span);
        Debug.Assert(offset == size);
        return bytes;
    }

    internal Pb.Message ToPb()
    {
        Pb.Message pb = new()
        {
            From = ByteString.CopyFrom(From.Bytes),
            Seqno = ByteString.CopyFrom(SeqnoBytes()),
            Topic = Topic,
            Signature = ByteString.CopyFrom(Signature.Span),
        };
        if (HasData)
            pb.Data = ByteString.CopyFrom(Data.Span);
        if (Key is { } key)
            pb.Key = ByteString.CopyFrom(key.Span);
        return pb;
    }

    /// <summary>Signs a new message as <paramref name="author"/>.</summary>
    internal static PubsubMessage Sign(KeyPair author, string topic, ReadOnlyMemory<byte> data, ulong seqno, bool includeKey)
    {
        Span<byte> seqnoBytes = stackalloc byte[SeqnoLength];
        BinaryPrimitives.WriteUInt64BigEndian(seqnoBytes, seqno);
        byte[] signature = new byte[64];
        byte[] signed = RentSignedBytes(author.PeerId.Bytes, data.Span, true, seqnoBytes, topic, out int length);
        try
        {
            author.Sign(signed.AsSpan(0, length), signature);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(signed);
        }
        ReadOnlyMemory<byte>? key = includeKey ? author.PublicKey.ToProtobuf() : (ReadOnlyMemory<byte>?)null;
        return new PubsubMessage(author.PeerId, seqno, topic, data.ToArray(), true, signature, key, author.PublicKey);
    }

    /// <summary>
    /// Checks a stored message from its separate fields (data is taken as present, as every
    /// implementation sends it). Returns false with the reason when it does not verify.
    /// </summary>
    public static bool Verify(ReadOnlySpan<byte> from, ReadOnlySpan<byte> data, ReadOnlySpan<byte> seqno, string topic,
        ReadOnlySpan<byte> signature, ReadOnlySpan<byte> key, out string? error)
    {
        Pb.Message pb = new()
        {
            From = ByteString.CopyFrom(from),
            Data = ByteString.CopyFrom(data),
            Seqno = ByteString.CopyFrom(seqno),
            Topic = topic,
            Signature = ByteString.CopyFrom(signature),
        };
        if (!key.IsEmpty)
            pb.Key = ByteString.CopyFrom(key);
        SignatureStatus status = TryValidate(pb, out _);
        error = status == SignatureStatus.Valid ? null : Describe(status);
        return status == SignatureStatus.Valid;
    }

    /// <summary>Decodes and verifies a message kept with <see cref="ToProtobuf"/> (or as received from the wire).</summary>
    internal static bool TryFromProtobuf(ReadOnlySpan<byte> encoded, out PubsubMessage? message, out string? error)
    {
        message = null;
        if (encoded.Length > PubsubRpcCodec.MaxRpcSize)
        {
            error = $"{encoded.Length} bytes is over the {PubsubRpcCodec.MaxRpcSize}-byte limit";
            return false;
        }
        Pb.Message pb;
        try
        {
            pb = Pb.Message.Parser.ParseFrom(encoded);
        }
        catch (InvalidProtocolBufferException e)
        {
            error = "malformed message: " + e.Message;
            return false;
        }
        SignatureStatus status = TryValidate(pb, out message);
        error = status == SignatureStatus.Valid ? null : Describe(status);
        return message is not null;
    }

    /// <summary>
    /// The StrictSign checks: <c>from</c>, an 8-byte <c>seqno</c>, a topic and a signature are present,
    /// <c>key</c> (when present) belongs to <c>from</c>, and the signature verifies.
    /// </summary>
    /// <remarks>
    /// <paramref name="authors"/> remembers authors whose <c>from</c> (and <c>key</c>) already decoded and
    /// matched, so a stream of messages from one author decodes its id and key once.
    /// </remarks>
    internal static SignatureStatus TryValidate(Pb.Message pb, out PubsubMessage? message, AuthorCache? authors = null)
    {
        message = null;
        if (!pb.HasFrom)
            return SignatureStatus.MissingFrom;
        if (!pb.HasSeqno)
            return SignatureStatus.MissingSeqno;
        if (pb.Seqno.Length != SeqnoLength)
            return SignatureStatus.BadSeqno;
        if (!pb.HasTopic || pb.Topic.Length == 0)
            return SignatureStatus.MissingTopic;
        if (pb.Topic.Length > MaxTopicLength)
            return SignatureStatus.BadTopic;
        if (!pb.HasSignature || pb.Signature.Length == 0)
            return SignatureStatus.MissingSignature;
        if (pb.Signature.Length > MaxSignatureLength)
            return SignatureStatus.BadSignature;
        PeerId? from;
        PublicKey publicKey;
        if (authors?.Find(pb.From.Span, pb.HasKey, pb.Key.Span) is { } known)
        {
            from = known.From;
            publicKey = known.PublicKey;
        }
        else
        {
            SignatureStatus author = ResolveAuthor(pb, out from, out publicKey);
            if (author != SignatureStatus.Valid)
                return author;
            authors?.Add(pb.From.Span, pb.HasKey, pb.Key.Span, from!, publicKey);
        }
        byte[] signed = RentSignedBytes(pb.From.Span, pb.Data.Span, pb.HasData, pb.Seqno.Span, pb.Topic, out int length);
        try
        {
            if (!publicKey.Verify(signed.AsSpan(0, length), pb.Signature.Span))
                return SignatureStatus.BadSignature;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(signed);
        }
        ulong seqno = BinaryPrimitives.ReadUInt64BigEndian(pb.Seqno.Span);
        message = new PubsubMessage(from!, seqno, pb.Topic, pb.Data.Memory, pb.HasData, pb.Signature.Memory,
            pb.HasKey ? pb.Key.Memory : (ReadOnlyMemory<byte>?)null, publicKey);
        return SignatureStatus.Valid;
    }

    /// <summary>The author's peer id and key from <c>from</c> and <c>key</c>; the key must belong to <c>from</c>.</summary>
    private static SignatureStatus ResolveAuthor(Pb.Message pb, out PeerId? from, out PublicKey publicKey)
    {
        publicKey = null!;
        if (!PeerId.TryFromBytes(pb.From.Span, out from) || from is null)
            return SignatureStatus.BadFrom;
        if (pb.HasKey)
        {
            try
            {
                publicKey = PublicKey.FromProtobuf(pb.Key.Span);
            }
            catch (ProtocolViolationException)
            {
                return SignatureStatus.BadKey;
            }
            if (!from.Matches(publicKey))
                return SignatureStatus.KeyMismatch;
        }
        else if (from.TryGetPublicKey() is { } inlined)
            publicKey = inlined;
        else
            return SignatureStatus.MissingKey;
        return SignatureStatus.Valid;
    }

    /// <summary>
    /// <c>"libp2p-pubsub:" || Message{from, data, seqno, topic}</c> in a buffer from the shared pool (return
    /// it there); the first <paramref name="length"/> bytes are the signed content.
    /// </summary>
    private static byte[] RentSignedBytes(ReadOnlySpan<byte> from, ReadOnlySpan<byte> data, bool hasData,
        ReadOnlySpan<byte> seqno, string topic, out int length)
    {
        length = SignPrefix.Length + SignedFieldsLength(from.Length, data.Length, hasData, topic);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(length);
        SignPrefix.CopyTo(buffer);
        WriteSignedFields(buffer.AsSpan(SignPrefix.Length), from, data, hasData, seqno, topic);
        return buffer;
    }

    /// <summary>The size of fields 1-4 as protobuf writes them (proto2 optional: absent data is omitted).</summary>
    private static int SignedFieldsLength(int from, int data, bool hasData, string topic) =>
        FieldLength(from) + (hasData ? FieldLength(data) : 0) + FieldLength(SeqnoLength) + FieldLength(Encoding.UTF8.GetByteCount(topic));

    private static int WriteSignedFields(Span<byte> destination, ReadOnlySpan<byte> from, ReadOnlySpan<byte> data, bool hasData,
        ReadOnlySpan<byte> seqno, string topic)
    {
        int offset = WriteField(destination, 1, from);
        if (hasData)
            offset += WriteField(destination[offset..], 2, data);
        offset += WriteField(destination[offset..], 3, seqno);
        int topicLength = Encoding.UTF8.GetByteCount(topic);
        offset += WriteTag(destination[offset..], 4, topicLength);
        offset += Encoding.UTF8.GetBytes(topic, destination[offset..]);
        return offset;
    }

    /// <summary>A length-delimited field: tag, length, bytes.</summary>
    private static int FieldLength(int length) => 1 + Framing.Varint.GetByteCount((ulong)length) + length;

    private static int WriteField(Span<byte> destination, int field, ReadOnlySpan<byte> value)
    {
        int offset = WriteTag(destination, field, value.Length);
        value.CopyTo(destination[offset..]);
        return offset + value.Length;
    }

    private static int WriteTag(Span<byte> destination, int field, int length)
    {
        destination[0] = (byte)(field << 3 | 2);
        return 1 + Framing.Varint.Write(destination[1..], (ulong)length);
    }

    internal static string Describe(SignatureStatus status) => status switch
    {
        SignatureStatus.MissingFrom => "no from field",
        SignatureStatus.BadFrom => "from is not a peer id",
        SignatureStatus.MissingSeqno => "no seqno",
        SignatureStatus.BadSeqno => "seqno is not 8 bytes",
        SignatureStatus.MissingTopic => "no topic",
        SignatureStatus.BadTopic => $"topic longer than {MaxTopicLength} characters",
        SignatureStatus.MissingSignature => "unsigned",
        SignatureStatus.BadKey => "key is not a public key",
        SignatureStatus.KeyMismatch => "key does not belong to from",
        SignatureStatus.MissingKey => "no key and from does not inline one",
        SignatureStatus.BadSignature => "signature does not verify",
        _ => status.ToString(),
    };

    public override string ToString() => $"message {Seqno} from {From.ToShortString()} on \"{Topic}\" ({Data.Length} bytes)";
}

internal enum SignatureStatus
{
    Valid,
    MissingFrom,
    BadFrom,
    MissingSeqno,
    BadSeqno,
    MissingTopic,
    BadTopic,
    MissingSignature,
    BadSignature,
    BadKey,
    KeyMismatch,
    MissingKey,
}
