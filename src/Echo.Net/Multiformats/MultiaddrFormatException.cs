using System.Text;

namespace Echo.Net.Multiformats;

/// <summary>
/// A text or binary multiaddr could not be parsed. The message names the bad part and where it is,
/// e.g. <c>invalid multiaddr "/ip4/1.2.3.999/tcp/80": bad ip4 value "1.2.3.999" (...) at character 5</c>
/// or <c>invalid multiaddr a503...: unknown protocol code 0x3ff at byte 7</c>.
/// </summary>
public sealed class MultiaddrFormatException(string message, string? component, int position)
    : ProtocolViolationException(ProtocolIdentifier, message)
{
    /// <summary>The <see cref="ProtocolViolationException.ProtocolId"/> of every multiaddr error.</summary>
    public const string ProtocolIdentifier = "multiaddr";

    private const int MaxQuotedLength = 80;
    private const int MaxQuotedBytes = 32;

    /// <summary>The protocol name (or unknown name or code) of the bad component; null when the whole address is at fault.</summary>
    public string? Component { get; } = component;

    /// <summary>Where the problem starts: a 0-based character index in text, or byte offset in binary.</summary>
    public int Position { get; } = position;

    internal static string DescribeText(string text, MultiaddrError error) =>
        $"invalid multiaddr \"{Quote(text)}\": {error.Reason} at character {error.Position}";

    internal static string DescribeBinary(ReadOnlySpan<byte> bytes, MultiaddrError error)
    {
        string hex = bytes.Length <= MaxQuotedBytes
            ? Convert.ToHexStringLower(bytes)
            : Convert.ToHexStringLower(bytes[..MaxQuotedBytes]) + "...";
        return $"invalid multiaddr {(hex.Length == 0 ? "(no bytes)" : hex)}: {error.Reason} at byte {error.Position}";
    }

    internal static MultiaddrFormatException FromText(string text, MultiaddrError error) =>
        new(DescribeText(text, error), error.Component, error.Position);

    internal static MultiaddrFormatException FromBinary(ReadOnlySpan<byte> bytes, MultiaddrError error) =>
        new(DescribeBinary(bytes, error), error.Component, error.Position);

    /// <summary>
    /// Remote text goes into messages that reach logs and screens: shorten it and replace control
    /// and format characters (terminal escapes, bidi overrides) with '?'.
    /// </summary>
    internal static string Quote(ReadOnlySpan<char> text)
    {
        bool shortened = text.Length > MaxQuotedLength;
        if (shortened)
            text = text[..MaxQuotedLength];
        StringBuilder quoted = new(text.Length + 3);
        foreach (char c in text)
        {
            System.Globalization.UnicodeCategory category = char.GetUnicodeCategory(c);
            quoted.Append(category is System.Globalization.UnicodeCategory.Control or System.Globalization.UnicodeCategory.Format
                or System.Globalization.UnicodeCategory.Surrogate ? '?' : c);
        }
        if (shortened)
            quoted.Append("...");
        return quoted.ToString();
    }
}
