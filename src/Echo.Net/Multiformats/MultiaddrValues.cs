using System.Buffers.Binary;
using System.Buffers.Text;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Unicode;
using Echo.Net.Identity;
using SimpleBase;

namespace Echo.Net.Multiformats;

/// <summary>
/// Converts one component's value between text and binary, per protocol. Both directions apply the
/// same rules, so every value accepted in one form prints to the other and back unchanged.
/// </summary>
internal static class MultiaddrValues
{
    /// <summary>Parses the text value of <paramref name="protocol"/>; on failure <paramref name="reason"/> says why.</summary>
    public static bool TryParse(MultiaddrProtocol protocol, ReadOnlySpan<char> text, out byte[] value, out string? reason)
    {
        value = [];
        reason = null;
        switch (protocol.Kind)
        {
            case ValueKind.Ip4:
                return TryParseIp4(text, out value, out reason);
            case ValueKind.Ip6:
                return TryParseIp6(text, out value, out reason);
            case ValueKind.Port:
                if (!TryParsePort(text, out ushort port, out reason))
                    return false;
                value = new byte[2];
                BinaryPrimitives.WriteUInt16BigEndian(value, port);
                return true;
            case ValueKind.Name:
                reason = CheckText(text, allowSlash: false, allowWhiteSpace: false);
                return reason is null && TryGetUtf8(text, protocol.MaxValueLength, out value, out reason);
            case ValueKind.Path:
                // Text "/unix/tmp/a.sock" carries the path "/tmp/a.sock": the slash that separates the
                // protocol name from its value is the path's leading slash.
                string path = "/" + text.ToString();
                reason = CheckText(path, allowSlash: true, allowWhiteSpace: true);
                return reason is null && TryGetUtf8(path, protocol.MaxValueLength, out value, out reason);
            case ValueKind.PeerId:
                // Base58 and base32 are ASCII letters and digits; SimpleBase indexes its tables by
                // character and throws IndexOutOfRangeException on anything else, so filter first.
                if (text.ContainsAnyExcept(AsciiLettersAndDigits))
                {
                    reason = "neither base58 nor CIDv1 text";
                    return false;
                }
                if (!PeerId.TryParse(text.ToString(), out PeerId? peerId, out reason))
                    return false;
                value = peerId!.ToBytes();
                return true;
            case ValueKind.CertHash:
                if (!TryDecodeMultibase(text, out value, out reason))
                    return false;
                if (value.Length > protocol.MaxValueLength)
                {
                    reason = $"{value.Length} bytes, above the {protocol.MaxValueLength}-byte limit";
                    return false;
                }
                reason = CheckMultihash(value);
                return reason is null;
            default:
                throw new InvalidOperationException($"{protocol.Name} has no value");
        }
    }

    /// <summary>Checks a binary value whose length already fits the protocol; returns why it is bad, or null.</summary>
    public static string? Validate(MultiaddrProtocol protocol, ReadOnlySpan<byte> value)
    {
        switch (protocol.Kind)
        {
            case ValueKind.Ip4:
            case ValueKind.Ip6:
            case ValueKind.Port:
                return null;                      // any fixed-size bytes are an address or a port
            case ValueKind.Name:
                return Utf8.IsValid(value)
                    ? CheckText(Encoding.UTF8.GetString(value), allowSlash: false, allowWhiteSpace: false)
                    : "not valid UTF-8";
            case ValueKind.Path:
                if (value.Length < 2 || value[0] != (byte)'/')
                    return "a unix path must be absolute and longer than \"/\"";
                return Utf8.IsValid(value)
                    ? CheckText(Encoding.UTF8.GetString(value), allowSlash: true, allowWhiteSpace: true)
                    : "not valid UTF-8";
            case ValueKind.PeerId:
                return PeerId.TryFromBytes(value, out _) ? null : "not a peer id";
            case ValueKind.CertHash:
                return CheckMultihash(value);
            default:
                throw new InvalidOperationException($"{protocol.Name} has no value");
        }
    }

    /// <summary>The text form of a value that <see cref="Validate"/> accepted.</summary>
    public static string Format(MultiaddrProtocol protocol, ReadOnlySpan<byte> value) => protocol.Kind switch
    {
        ValueKind.Ip4 => string.Create(CultureInfo.InvariantCulture, $"{value[0]}.{value[1]}.{value[2]}.{value[3]}"),
        ValueKind.Ip6 => new IPAddress(value).ToString(),
        ValueKind.Port => BinaryPrimitives.ReadUInt16BigEndian(value).ToString(CultureInfo.InvariantCulture),
        ValueKind.Name or ValueKind.Path => Encoding.UTF8.GetString(value),
        ValueKind.PeerId => PeerId.FromBytes(value).ToString(),
        ValueKind.CertHash => "u" + Base64Url.EncodeToString(value),
        _ => throw new InvalidOperationException($"{protocol.Name} has no value"),
    };

    // Strict dotted quad: four decimal parts 0..255, no leading zeros (go rejects them too, and
    // "010" reads as octal in some parsers), no shorthand like "1.2.3" or "127.1".
    private static bool TryParseIp4(ReadOnlySpan<char> text, out byte[] value, out string? reason)
    {
        value = new byte[4];
        reason = "not a dotted quad of four numbers 0..255";
        int part = 0;
        int i = 0;
        while (true)
        {
            int start = i;
            int number = 0;
            while (i < text.Length && char.IsAsciiDigit(text[i]) && i - start < 3)
                number = number * 10 + (text[i++] - '0');
            int digits = i - start;
            if (digits == 0 || number > 255 || (digits > 1 && text[start] == '0'))
                return false;
            value[part++] = (byte)number;
            if (part == 4)
            {
                if (i != text.Length)
                    return false;
                reason = null;
                return true;
            }
            if (i == text.Length || text[i] != '.')
                return false;
            i++;
        }
    }

    private static bool TryParseIp6(ReadOnlySpan<char> text, out byte[] value, out string? reason)
    {
        value = [];
        reason = "not an IPv6 address";
        // IPAddress.TryParse also takes "[::1]:80", "fe80::1%eth0" and IPv4 text; allow only the
        // characters of a plain IPv6 address (RFC 4291 2.2, mixed notation included).
        if (text.Length > 45 || text.ContainsAnyExcept(Ip6Characters))
            return false;
        if (!IPAddress.TryParse(text, out IPAddress? address) || address.AddressFamily != AddressFamily.InterNetworkV6)
            return false;
        value = address.GetAddressBytes();
        reason = null;
        return true;
    }

    private static readonly System.Buffers.SearchValues<char> Ip6Characters =
        System.Buffers.SearchValues.Create("0123456789abcdefABCDEF:.");

    /// <summary>Decimal 0..65535 without sign, spaces or leading zeros.</summary>
    internal static bool TryParsePort(ReadOnlySpan<char> text, out ushort port, out string? reason)
    {
        port = 0;
        reason = "not a port number 0..65535";
        if (text.Length is 0 or > 5 || text.ContainsAnyExceptInRange('0', '9') || (text.Length > 1 && text[0] == '0'))
            return false;
        int number = int.Parse(text, NumberStyles.None, CultureInfo.InvariantCulture);
        if (number > ushort.MaxValue)
            return false;
        port = (ushort)number;
        reason = null;
        return true;
    }

    /// <summary>
    /// Names and paths end up in logs and on screen: refuse control and format characters (escape
    /// sequences, bidi overrides) and broken UTF-16; names also refuse '/' and whitespace.
    /// </summary>
    private static string? CheckText(ReadOnlySpan<char> text, bool allowSlash, bool allowWhiteSpace)
    {
        if (text.IsEmpty)
            return "empty";
        while (!text.IsEmpty)
        {
            if (Rune.DecodeFromUtf16(text, out Rune rune, out int used) != System.Buffers.OperationStatus.Done)
                return "not valid Unicode";
            UnicodeCategory category = Rune.GetUnicodeCategory(rune);
            if (category is UnicodeCategory.Control or UnicodeCategory.Format)
                return $"contains the character U+{rune.Value:X4}";
            if (!allowSlash && rune.Value == '/')
                return "contains '/'";
            if (!allowWhiteSpace && Rune.IsWhiteSpace(rune))
                return "contains whitespace";
            text = text[used..];
        }
        return null;
    }

    private static bool TryGetUtf8(ReadOnlySpan<char> text, int maxBytes, out byte[] value, out string? reason)
    {
        int count = Encoding.UTF8.GetByteCount(text);
        if (count > maxBytes)
        {
            value = [];
            reason = $"{count} bytes, above the {maxBytes}-byte limit";
            return false;
        }
        value = new byte[count];
        Encoding.UTF8.GetBytes(text, value);
        reason = null;
        return true;
    }

    /// <summary>A multihash is <c>uvarint(hash code) || uvarint(digest length) || digest</c>.</summary>
    private static string? CheckMultihash(ReadOnlySpan<byte> value)
    {
        if (!MultiaddrCodec.TryReadVarint(value, out _, out int codeLength, out string? error))
            return error ?? "truncated multihash code";
        if (!MultiaddrCodec.TryReadVarint(value[codeLength..], out ulong digestLength, out int lengthLength, out error))
            return error ?? "truncated multihash length";
        int carried = value.Length - codeLength - lengthLength;
        return digestLength == (ulong)carried ? null : $"multihash announces {digestLength} digest bytes but carries {carried}";
    }

    /// <summary>
    /// Multibase text (multiformats/multibase): u = base64url, b = base32, z = base58btc, f = hex;
    /// each without padding and in the one canonical spelling, so the bytes print back to the same text.
    /// Base64 with '+' and '/' cannot appear inside a multiaddr component and is not accepted.
    /// </summary>
    private static bool TryDecodeMultibase(ReadOnlySpan<char> text, out byte[] value, out string? reason)
    {
        value = [];
        reason = null;
        if (text.Length < 2)
        {
            reason = "too short for multibase";
            return false;
        }
        char prefix = text[0];
        ReadOnlySpan<char> body = text[1..];
        try
        {
            switch (prefix)
            {
                case 'u':
                    if (body.ContainsAnyExcept(Base64UrlCharacters))
                        break;
                    value = Base64Url.DecodeFromChars(body);
                    if (body.SequenceEqual(Base64Url.EncodeToString(value)))
                        return true;
                    break;
                case 'b' when !body.ContainsAnyExcept(AsciiLettersAndDigits):
                    value = Base32.Rfc4648.Decode(body);
                    if (body.SequenceEqual(Base32.Rfc4648.Encode(value, padding: false).ToLowerInvariant()))
                        return true;
                    break;
                case 'z' when !body.ContainsAnyExcept(AsciiLettersAndDigits):
                    value = Base58.Bitcoin.Decode(body);
                    if (body.SequenceEqual(Base58.Bitcoin.Encode(value)))
                        return true;
                    break;
                case 'f':
                    if (body.ContainsAnyExcept(LowerHexCharacters))
                        break;
                    value = Convert.FromHexString(body);
                    return true;
                case 'b' or 'z':
                    break;
                default:
                    reason = $"unsupported multibase prefix '{(char.IsControl(prefix) ? '?' : prefix)}' (u, b, z or f)";
                    return false;
            }
        }
        catch (Exception e) when (e is FormatException or ArgumentException or InvalidOperationException)
        {
        }
        value = [];
        reason = $"not canonical multibase '{prefix}' text";
        return false;
    }

    private static readonly System.Buffers.SearchValues<char> Base64UrlCharacters =
        System.Buffers.SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");

    private static readonly System.Buffers.SearchValues<char> AsciiLettersAndDigits =
        System.Buffers.SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");

    private static readonly System.Buffers.SearchValues<char> LowerHexCharacters =
        System.Buffers.SearchValues.Create("0123456789abcdef");
}
