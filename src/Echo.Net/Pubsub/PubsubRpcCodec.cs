using Google.Protobuf;

namespace Echo.Net.Pubsub;

/// <summary>
/// Decodes and encodes pubsub <c>RPC</c> frames with limits applied before anything is parsed
/// (https://github.com/libp2p/specs/blob/master/pubsub/README.md, gossipsub-v1.0.md).
/// </summary>
/// <remarks>
/// The top level of the RPC is walked by hand so that every limit is checked on the raw bytes:
/// <code>
///   RPC := ( 0a len SubOpts        -- field 1, repeated: only the first MaxSubscriptions are parsed
///          | 12 len Message        -- field 2, repeated
///          | 1a len ControlMessage -- field 3: skipped unparsed when len &gt; MaxControlBytes
///          | any other field )*    -- skipped (go sends 10 and 6492434)
/// </code>
/// Each part is then parsed on its own. Bad bytes throw <see cref="ProtocolViolationException"/>.
/// </remarks>
internal static class PubsubRpcCodec
{
    public const string ProtocolId = "/meshsub/1.1.0";

    /// <summary>go-libp2p-pubsub's DefaultMaxMessageSize: an RPC frame of more is refused on its length prefix.</summary>
    public const int MaxRpcSize = 1 << 20;

    private const int WireVarint = 0;
    private const int WireFixed64 = 1;
    private const int WireLengthDelimited = 2;
    private const int WireFixed32 = 5;

    /// <summary>Splits and parses one RPC frame (without its length prefix).</summary>
    public static DecodedRpc Decode(ReadOnlySpan<byte> frame, int maxSubscriptions, int maxControlBytes)
    {
        if (frame.Length > MaxRpcSize)
            throw new OversizedMessageException(ProtocolId, (ulong)frame.Length, MaxRpcSize);
        DecodedRpc rpc = new();
        int offset = 0;
        while (offset < frame.Length)
        {
            ulong tag = ReadRawVarint(frame, ref offset);
            int field = checked((int)Math.Min(tag >> 3, int.MaxValue));
            int wireType = (int)(tag & 7);
            if (field == 0)
                throw new ProtocolViolationException(ProtocolId, "field number 0");
            if (field is 1 or 2 or 3 && wireType != WireLengthDelimited)
                throw new ProtocolViolationException(ProtocolId, $"RPC field {field} has wire type {wireType}, expected 2");
            switch (wireType)
            {
                case WireVarint:
                    ReadRawVarint(frame, ref offset);
                    break;
                case WireFixed64:
                    Skip(frame, ref offset, 8);
                    break;
                case WireFixed32:
                    Skip(frame, ref offset, 4);
                    break;
                case WireLengthDelimited:
                    ulong length = ReadRawVarint(frame, ref offset);
                    if (length > (ulong)(frame.Length - offset))
                        throw new ProtocolViolationException(ProtocolId, $"field {field} announces {length} bytes, {frame.Length - offset} left");
                    ReadOnlySpan<byte> body = frame.Slice(offset, (int)length);
                    offset += (int)length;
                    switch (field)
                    {
                        case 1:
                            if (rpc.Subscriptions.Count < maxSubscriptions)
                                rpc.Subscriptions.Add(Parse(Pb.RPC.Types.SubOpts.Parser, body, "subscription"));
                            else
                                rpc.SubscriptionsDropped++;
                            break;
                        case 2:
                            rpc.Messages.Add(Parse(Pb.Message.Parser, body, "message"));
                            break;
                        case 3:
                            // A second control field would merge into the first in protobuf; count them together.
                            rpc.ControlBytes += body.Length;
                            if (rpc.ControlBytes > maxControlBytes)
                            {
                                rpc.Control = null;
                                rpc.ControlDropped = true;
                            }
                            else if (rpc.Control is null)
                                rpc.Control = Parse(Pb.ControlMessage.Parser, body, "control message");
                            else
                                rpc.Control.MergeFrom(Parse(Pb.ControlMessage.Parser, body, "control message"));
                            break;
                    }
                    break;
                default:
                    throw new ProtocolViolationException(ProtocolId, $"field {field} has unsupported wire type {wireType}");
            }
        }
        return rpc;
    }

    private static T Parse<T>(MessageParser<T> parser, ReadOnlySpan<byte> body, string what) where T : IMessage<T>
    {
        try
        {
            return parser.ParseFrom(body);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new ProtocolViolationException(ProtocolId, $"malformed {what}: {e.Message}", e);
        }
    }

    /// <summary>A protobuf varint (up to 10 bytes; non-minimal forms are legal protobuf).</summary>
    private static ulong ReadRawVarint(ReadOnlySpan<byte> source, ref int offset)
    {
        ulong value = 0;
        for (int i = 0; i < 10; i++)
        {
            if (offset >= source.Length)
                throw new ProtocolViolationException(ProtocolId, "truncated varint");
            byte b = source[offset++];
            value |= (ulong)(b & 0x7f) << (7 * i);
            if (b < 0x80)
                return value;
        }
        throw new ProtocolViolationException(ProtocolId, "varint longer than 10 bytes");
    }

    private static void Skip(ReadOnlySpan<byte> source, ref int offset, int count)
    {
        if (source.Length - offset < count)
            throw new ProtocolViolationException(ProtocolId, "truncated fixed-width field");
        offset += count;
    }

    /// <summary>An RPC carrying one already encoded <c>Message</c>: <c>12 len message</c>.</summary>
    public static byte[] EncodePublish(ReadOnlySpan<byte> encodedMessage)
    {
        int lengthBytes = Framing.Varint.GetByteCount((ulong)encodedMessage.Length);
        byte[] rpc = new byte[1 + lengthBytes + encodedMessage.Length];
        rpc[0] = 0x12;
        Framing.Varint.Write(rpc.AsSpan(1), (ulong)encodedMessage.Length);
        encodedMessage.CopyTo(rpc.AsSpan(1 + lengthBytes));
        return rpc;
    }

    /// <summary>An RPC carrying several already encoded messages.</summary>
    public static byte[] EncodePublish(IReadOnlyList<byte[]> encodedMessages)
    {
        int size = 0;
        foreach (byte[] m in encodedMessages)
            size += 1 + Framing.Varint.GetByteCount((ulong)m.Length) + m.Length;
        byte[] rpc = new byte[size];
        int offset = 0;
        foreach (byte[] m in encodedMessages)
        {
            rpc[offset++] = 0x12;
            offset += Framing.Varint.Write(rpc.AsSpan(offset), (ulong)m.Length);
            m.CopyTo(rpc.AsSpan(offset));
            offset += m.Length;
        }
        return rpc;
    }
}

/// <summary>One decoded RPC frame: what was parsed and what the limits left out.</summary>
internal sealed class DecodedRpc
{
    public List<Pb.RPC.Types.SubOpts> Subscriptions { get; } = [];

    /// <summary>Subscription entries beyond the per-RPC limit, skipped without parsing.</summary>
    public int SubscriptionsDropped { get; set; }

    public List<Pb.Message> Messages { get; } = [];

    public Pb.ControlMessage? Control { get; set; }

    public int ControlBytes { get; set; }

    /// <summary>The control section was larger than allowed and was skipped without parsing.</summary>
    public bool ControlDropped { get; set; }
}
