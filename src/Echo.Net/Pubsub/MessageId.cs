namespace Echo.Net.Pubsub;

/// <summary>A message id (arbitrary bytes) usable as a dictionary key.</summary>
internal readonly struct MessageId : IEquatable<MessageId>
{
    /// <summary>Ids longer than this in IHAVE/IWANT/IDONTWANT are ignored; go's and js's are under 50 bytes.</summary>
    public const int MaxLength = 256;

    private readonly byte[] _bytes;
    private readonly int _hash;

    public MessageId(byte[] bytes)
    {
        _bytes = bytes;
        HashCode hash = new();
        hash.AddBytes(bytes);
        _hash = hash.ToHashCode();
    }

    public ReadOnlySpan<byte> Span => _bytes;

    /// <summary>The default value: no id (a message that is not routed further).</summary>
    public bool IsEmpty => _bytes is null || _bytes.Length == 0;

    public byte[] Bytes => _bytes;

    public bool Equals(MessageId other) => _hash == other._hash && _bytes.AsSpan().SequenceEqual(other._bytes);

    public override bool Equals(object? obj) => obj is MessageId other && Equals(other);

    public override int GetHashCode() => _hash;

    public override string ToString() => Convert.ToHexStringLower(_bytes);
}
