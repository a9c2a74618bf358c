using System.Buffers;
using CsCheck;
using Echo.Net.Framing;

namespace Echo.Net.Tests.Framing;

public class VarintTests
{
    [Theory]                                    // vectors from the unsigned-varint spec
    [InlineData("01", 1UL)]
    [InlineData("7f", 127UL)]
    [InlineData("8001", 128UL)]
    [InlineData("ff01", 255UL)]
    [InlineData("ac02", 300UL)]
    [InlineData("808001", 16384UL)]
    [InlineData("ffffffffffffffff7f", (1UL << 63) - 1)]
    public void TryRead_SpecVector_DecodesValueAndReencodes(string hex, ulong expected)
    {
        byte[] bytes = Convert.FromHexString(hex);
        SequenceReader<byte> reader = new(new ReadOnlySequence<byte>(bytes));
        Assert.True(Varint.TryRead(ref reader, out ulong value));
        Assert.Equal(expected, value);
        Assert.Equal(bytes.Length, reader.Consumed);
        Assert.Equal(hex, Convert.ToHexStringLower(Varint.Encode(expected)));
    }

    [Theory]
    [InlineData("8100")]                         // 1, not minimal
    [InlineData("ff80808080808080800")]          // 10 bytes
    [InlineData("80808080808080808001")]         // 10 bytes
    [InlineData("ffffffffffffffffff")]           // 9 continuation bytes: can never end within 9
    public void TryRead_OverlongOrNonMinimal_Throws(string hex)
    {
        byte[] bytes = Convert.FromHexString(hex.Length % 2 == 1 ? hex + "0" : hex);
        Assert.Throws<ProtocolViolationException>(() => Varint.TryRead(bytes, out _, out _));
    }

    [Theory]
    [InlineData("")]
    [InlineData("80")]
    [InlineData("ff80")]
    public void TryRead_Truncated_NeedsMore(string hex)
    {
        Assert.False(Varint.TryRead(Convert.FromHexString(hex), out _, out _));
    }

    [Fact]
    public void EncodeDecode_RoundTripsAnyValue()
    {
        Gen.ULong[0, Varint.MaxValue].Sample(v =>
        {
            byte[] bytes = Varint.Encode(v);
            return Varint.TryRead(bytes, out ulong back, out int n) && back == v && n == bytes.Length
                   && n == Varint.GetByteCount(v);
        }, iter: 100_000);
    }

    [Fact]
    public void TryRead_RandomBytes_OnlyThrowsProtocolViolation()
    {
        Gen.Byte.Array[0, 12].Sample(bytes =>
        {
            try
            {
                if (Varint.TryRead(bytes, out ulong v, out int n))
                    Assert.Equal(bytes.AsSpan(0, n).ToArray(), Varint.Encode(v));
            }
            catch (ProtocolViolationException)
            {
            }
        }, iter: 100_000);
    }
}
