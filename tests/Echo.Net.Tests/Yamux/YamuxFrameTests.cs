using System.Buffers;
using CsCheck;
using Echo.Net.Yamux;

namespace Echo.Net.Tests.Yamux;

public class YamuxFrameTests
{
    [Theory]   // hand-assembled from the spec's field list: version, type, flags (BE), stream id (BE), length (BE)
    [InlineData("000100010000000100040000", 1, 0x1, 1u, 262144u)]
    [InlineData("000000020000000200000005", 0, 0x2, 2u, 5u)]
    [InlineData("000200010000000012345678", 2, 0x1, 0u, 0x12345678u)]
    [InlineData("000200020000000012345678", 2, 0x2, 0u, 0x12345678u)]
    [InlineData("000300000000000000000001", 3, 0x0, 0u, 1u)]
    [InlineData("00010008fffffffffffffffe", 1, 0x8, 0xffffffffu, 0xfffffffeu)]
    [InlineData("00000004000000070000000c", 0, 0x4, 7u, 12u)]
    public void Parse_SpecLayout_DecodesFields(string hex, byte type, int flags, uint streamId, uint length)
    {
        YamuxHeader header = YamuxFrame.Parse(Convert.FromHexString(hex));
        Assert.Equal(new YamuxHeader((YamuxFrameType)type, (YamuxFlags)flags, streamId, length), header);

        byte[] written = new byte[YamuxFrame.HeaderLength];
        YamuxFrame.Write(written, header);
        Assert.Equal(hex, Convert.ToHexStringLower(written));
    }

    [Theory]
    [InlineData("010000000000000100000000")]   // version 1
    [InlineData("ff0100000000000100000000")]   // version 255
    [InlineData("000400000000000100000000")]   // type 4
    [InlineData("00ff00000000000000000000")]   // type 255
    [InlineData("000000000000000101000001")]   // Data longer than 16 MiB
    [InlineData("0000000000000001ffffffff")]   // Data of 4 GiB
    public void Parse_Malformed_ThrowsProtocolViolation(string hex)
    {
        Assert.Throws<YamuxProtocolException>(() => YamuxFrame.Parse(Convert.FromHexString(hex)));
    }

    [Fact]
    public void Parse_UnknownFlagBits_AreKept()
    {
        YamuxHeader header = YamuxFrame.Parse(Convert.FromHexString("0001f0f10000000300000000"));
        Assert.True(header.Has(YamuxFlags.Syn));
        Assert.Equal((YamuxFlags)0xf0f1, header.Flags);
    }

    [Fact]
    public void Parse_DataAtLimit_Accepted()
    {
        YamuxHeader header = YamuxFrame.Parse(Convert.FromHexString("000000000000000101000000"));
        Assert.Equal(YamuxFrame.MaxDataLength, header.Length);
    }

    [Fact]
    public void TryReadHeader_ElevenBytes_NeedsMoreAndLeavesBufferAlone()
    {
        ReadOnlySequence<byte> buffer = new(Convert.FromHexString("0001000100000001000400"));
        Assert.False(YamuxFrame.TryReadHeader(ref buffer, out _));
        Assert.Equal(11, buffer.Length);
    }

    [Fact]
    public void TryReadHeader_SplitAcrossSegments_ReadsAndSlices()
    {
        byte[] bytes = Convert.FromHexString("000100010000000100040000aabb");
        ReadOnlySequence<byte> buffer = Split(bytes, 1, 5, 11);
        Assert.True(YamuxFrame.TryReadHeader(ref buffer, out YamuxHeader header));
        Assert.Equal(new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, 1, 262144), header);
        Assert.Equal(new byte[] { 0xaa, 0xbb }, buffer.ToArray());
    }

    [Fact]
    public void WriteThenRead_RandomHeaders_RoundTrip()
    {
        Gen<YamuxHeader> headers =
            from type in Gen.Byte[0, 3]
            from flags in Gen.UShort
            from id in Gen.UInt
            from length in Gen.UInt
            select new YamuxHeader((YamuxFrameType)type, (YamuxFlags)flags, id,
                type == 0 ? length % (YamuxFrame.MaxDataLength + 1) : length);
        Gen.Select(headers, Gen.Int[0, 11]).Sample((header, cut) =>
        {
            byte[] bytes = new byte[YamuxFrame.HeaderLength];
            YamuxFrame.Write(bytes, header);
            ReadOnlySequence<byte> buffer = Split(bytes, cut);
            Assert.True(YamuxFrame.TryReadHeader(ref buffer, out YamuxHeader read));
            Assert.Equal(header, read);
            Assert.True(buffer.IsEmpty);
        }, iter: 20_000);
    }

    [Fact]
    public void TryReadHeader_RandomAndMutatedBytes_OnlyProtocolViolations()
    {
        Gen<byte[]> valid =
            from type in Gen.Byte[0, 3]
            from flags in Gen.UShort
            from id in Gen.UInt
            from length in Gen.UInt[0, 70_000]
            select Encode(new YamuxHeader((YamuxFrameType)type, (YamuxFlags)flags, id, length));
        Gen<byte[]> mutated = Gen.Select(valid, Gen.Int[0, 11], Gen.Byte, (bytes, index, mask) =>
        {
            bytes[index] ^= mask;
            return bytes;
        });
        Gen<byte[]> concatenated = mutated.Array[1, 4].Select(parts => parts.SelectMany(p => p).ToArray());
        Gen.OneOf(Gen.Byte.Array[0, 40], mutated, concatenated).Sample(bytes =>
        {
            ReadOnlySequence<byte> buffer = new(bytes);
            try
            {
                while (YamuxFrame.TryReadHeader(ref buffer, out YamuxHeader header))
                {
                    Assert.True(header.Type <= YamuxFrameType.GoAway);
                    Assert.True(header.Type != YamuxFrameType.Data || header.Length <= YamuxFrame.MaxDataLength);
                }
                Assert.True(buffer.Length < YamuxFrame.HeaderLength);
            }
            catch (ProtocolViolationException)
            {
            }
        }, iter: 100_000);
    }

    [Fact]
    public void TryReadHeader_ValidAndSplitHeaders_AllocatesNothing()
    {
        byte[] bytes = [.. Enumerable.Range(0, 64).SelectMany(i => Encode(new YamuxHeader(
            (YamuxFrameType)(i % 4), YamuxFlags.Syn, (uint)i, i % 4 == 0 ? 100u : (uint)i)))];
        ReadOnlySequence<byte> whole = new(bytes);
        ReadOnlySequence<byte> split = Split(bytes, [.. Enumerable.Range(1, 100).Select(i => i * 7)]);
        int Decode() => Count(whole) + Count(split);
        static int Count(ReadOnlySequence<byte> buffer)
        {
            int count = 0;
            while (YamuxFrame.TryReadHeader(ref buffer, out _))
                count++;
            return count;
        }
        for (int i = 0; i < 200; i++)
            Decode();   // past JIT tiering
        long before = GC.GetAllocatedBytesForCurrentThread();
        int decoded = Decode();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(128, decoded);
        Assert.Equal(0, allocated);
    }

    private static byte[] Encode(YamuxHeader header)
    {
        byte[] bytes = new byte[YamuxFrame.HeaderLength];
        YamuxFrame.Write(bytes, header);
        return bytes;
    }

    /// <summary>A sequence whose segments break at the given offsets.</summary>
    private static ReadOnlySequence<byte> Split(byte[] bytes, params int[] cuts)
    {
        List<int> points = [0, .. cuts.Where(c => c > 0 && c < bytes.Length).Distinct().Order(), bytes.Length];
        Segment? first = null;
        Segment? last = null;
        for (int i = 0; i + 1 < points.Count; i++)
        {
            Segment segment = new(bytes.AsMemory(points[i], points[i + 1] - points[i]), points[i]);
            first ??= segment;
            if (last is not null)
                last.Next = segment;
            last = segment;
        }
        return first is null ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(first, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public new Segment? Next
        {
            get => (Segment?)base.Next;
            set => base.Next = value;
        }
    }
}
