// Yamux framing: https://github.com/hashicorp/yamux/blob/master/spec.md
// (copied into https://github.com/libp2p/specs/blob/master/yamux/README.md, protocol id /yamux/1.0.0).
//
// Every frame starts with a 12-byte header, all fields big-endian. Only Data frames carry a
// payload (Length bytes right after the header); for the other types Length is a value.
//
//    0               1               2               3
//    0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7
//   +---------------+---------------+-------------------------------+
//   |  Version (0)  |     Type      |             Flags             |
//   +---------------+---------------+-------------------------------+
//   |                           Stream ID                           |
//   +---------------------------------------------------------------+
//   |                             Length                            |
//   +---------------------------------------------------------------+
//   |  Data only: Length payload bytes ...
//
//   Type   0 Data          Length = payload bytes that follow
//          1 WindowUpdate  Length = delta added to the receiver's send window
//          2 Ping          Length = opaque value echoed back (stream 0)
//          3 GoAway        Length = 0 normal, 1 protocol error, 2 internal error (stream 0)
//   Flags  0x1 SYN  0x2 ACK  0x4 FIN  0x8 RST
//   Stream ID 0 is the session; the client (dialer) opens odd ids, the server (listener) even ids.

using System.Buffers;
using System.Buffers.Binary;

namespace Echo.Net.Yamux;

internal enum YamuxFrameType : byte
{
    Data = 0,
    WindowUpdate = 1,
    Ping = 2,
    GoAway = 3,
}

[Flags]
internal enum YamuxFlags : ushort
{
    None = 0,
    Syn = 0x1,
    Ack = 0x2,
    Fin = 0x4,
    Rst = 0x8,
}

internal readonly record struct YamuxHeader(YamuxFrameType Type, YamuxFlags Flags, uint StreamId, uint Length)
{
    public bool Has(YamuxFlags flag) => (Flags & flag) != 0;
}

/// <summary>Pure codec for the 12-byte yamux header; never awaits, never allocates.</summary>
internal static class YamuxFrame
{
    public const int HeaderLength = 12;
    public const byte Version = 0;

    /// <summary>
    /// Largest Data payload that can ever be legal: a peer may only send what our receive window
    /// allows, and no window we grant exceeds 16 MiB (the go/js auto-tuning ceiling), so a longer
    /// Data frame is rejected from the header alone, before anything is buffered or drained.
    /// </summary>
    public const uint MaxDataLength = 16 * 1024 * 1024;

    /// <summary>
    /// Reads one header from the front of <paramref name="buffer"/> and slices it off. Returns false
    /// (buffer untouched) when fewer than 12 bytes are there; throws <see cref="YamuxProtocolException"/>
    /// on an unknown version or type, or a Data length above <see cref="MaxDataLength"/>.
    /// </summary>
    public static bool TryReadHeader(ref ReadOnlySequence<byte> buffer, out YamuxHeader header)
    {
        if (buffer.Length < HeaderLength)
        {
            header = default;
            return false;
        }
        Span<byte> bytes = stackalloc byte[HeaderLength];
        ReadOnlySequence<byte> slice = buffer.Slice(0, HeaderLength);
        if (slice.IsSingleSegment)
            header = Parse(slice.FirstSpan);
        else
        {
            slice.CopyTo(bytes);
            header = Parse(bytes);
        }
        buffer = buffer.Slice(slice.End);
        return true;
    }

    /// <summary>Parses exactly one 12-byte header; throws <see cref="YamuxProtocolException"/> when it is malformed.</summary>
    public static YamuxHeader Parse(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < HeaderLength)
            throw new ArgumentException($"a yamux header is {HeaderLength} bytes", nameof(bytes));
        if (bytes[0] != Version)
            throw new YamuxProtocolException($"unsupported version {bytes[0]}");
        byte type = bytes[1];
        if (type > (byte)YamuxFrameType.GoAway)
            throw new YamuxProtocolException($"unknown frame type {type}");
        // Unknown flag bits are kept, not rejected: go and js ignore bits they do not know.
        YamuxHeader header = new(
            (YamuxFrameType)type,
            (YamuxFlags)BinaryPrimitives.ReadUInt16BigEndian(bytes[2..]),
            BinaryPrimitives.ReadUInt32BigEndian(bytes[4..]),
            BinaryPrimitives.ReadUInt32BigEndian(bytes[8..]));
        if (header.Type == YamuxFrameType.Data && header.Length > MaxDataLength)
            throw new YamuxProtocolException($"{header.Length}-byte Data frame exceeds the {MaxDataLength}-byte limit");
        return header;
    }

    public static void Write(Span<byte> destination, YamuxFrameType type, YamuxFlags flags, uint streamId, uint length)
    {
        if (destination.Length < HeaderLength)
            throw new ArgumentException($"a yamux header is {HeaderLength} bytes", nameof(destination));
        destination[0] = Version;
        destination[1] = (byte)type;
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)flags);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], streamId);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], length);
    }

    public static void Write(Span<byte> destination, in YamuxHeader header) =>
        Write(destination, header.Type, header.Flags, header.StreamId, header.Length);

    /// <summary>Writes a header into <paramref name="writer"/> and advances it.</summary>
    public static void Write(IBufferWriter<byte> writer, YamuxFrameType type, YamuxFlags flags, uint streamId, uint length)
    {
        Write(writer.GetSpan(HeaderLength), type, flags, streamId, length);
        writer.Advance(HeaderLength);
    }
}
