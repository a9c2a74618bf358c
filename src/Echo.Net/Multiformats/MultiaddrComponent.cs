namespace Echo.Net.Multiformats;

/// <summary>
/// One <c>/name/value</c> step of a <see cref="Multiaddr"/>. <see cref="Value"/> is the binary value
/// (null for protocols without one); treat it as read-only.
/// </summary>
public readonly record struct MultiaddrComponent(MultiaddrProtocol Protocol, byte[]? Value)
{
    /// <summary>The value as printed in text (<c>127.0.0.1</c>, <c>4001</c>, a base58 peer id), or null.</summary>
    public string? ValueText => Value is null ? null : MultiaddrValues.Format(Protocol, Value);

    public bool Equals(MultiaddrComponent other) =>
        ReferenceEquals(Protocol, other.Protocol) && Value.AsSpan().SequenceEqual(other.Value) && (Value is null) == (other.Value is null);

    public override int GetHashCode()
    {
        HashCode hash = new();
        hash.Add(Protocol?.Code);
        hash.AddBytes(Value);
        return hash.ToHashCode();
    }

    /// <summary>The component's text form, e.g. <c>/tcp/4001</c>.</summary>
    public override string ToString() => MultiaddrCodec.Format([this]);
}
