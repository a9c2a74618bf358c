using System.Text;
using Echo.Net.Framing;

namespace Echo.Net.Multiformats;

/// <summary>Where and why an address was refused; becomes a <see cref="MultiaddrFormatException"/> or a TryParse error.</summary>
internal readonly record struct MultiaddrError(string Reason, string? Component, int Position);

/// <summary>
/// Reads the text and binary forms into components. Pure and non-throwing: every refusal is a
/// <see cref="MultiaddrError"/> naming the component and its position, character or byte.
/// </summary>
internal static class MultiaddrCodec
{
    public static MultiaddrError? TryParseText(string text, out Multiaddr? result)
    {
        result = null;
        if (text.Length == 0)
            return new("empty multiaddr", null, 0);
        if (text.Length > Multiaddr.MaxTextLength)
            return new($"longer than {Multiaddr.MaxTextLength} characters", null, Multiaddr.MaxTextLength);
        if (text[0] != '/')
            return new("must start with '/'", null, 0);

        List<MultiaddrComponent> components = new(4);
        int byteCount = 0;
        int i = 1;
        while (i < text.Length)
        {
            int nameStart = i;
            int nameEnd = IndexOfSlash(text, nameStart);
            if (nameEnd == nameStart)
                return new("empty component", null, nameStart);
            ReadOnlySpan<char> name = text.AsSpan(nameStart, nameEnd - nameStart);
            if (!MultiaddrProtocol.TryGetByName(name, out MultiaddrProtocol? protocol))
            {
                string quoted = MultiaddrFormatException.Quote(name);
                return new($"unknown protocol \"{quoted}\"", quoted, nameStart);
            }
            if (components.Count == Multiaddr.MaxComponents)
                return new($"more than {Multiaddr.MaxComponents} components", protocol!.Name, nameStart);

            byte[]? value = null;
            if (protocol!.Size == 0)
                i = nameEnd + 1;                               // past the '/' (or the end)
            else
            {
                int valueStart = nameEnd + 1;
                int valueEnd = protocol.IsPath ? text.Length : IndexOfSlash(text, Math.Min(valueStart, text.Length));
                if (valueStart >= text.Length || valueEnd == valueStart)
                    return new($"missing {protocol.Name} value", protocol.Name, Math.Min(valueStart, text.Length));
                ReadOnlySpan<char> valueText = text.AsSpan(valueStart, valueEnd - valueStart);
                if (!MultiaddrValues.TryParse(protocol, valueText, out value, out string? reason))
                {
                    return new($"bad {protocol.Name} value \"{MultiaddrFormatException.Quote(valueText)}\" ({reason})",
                        protocol.Name, valueStart);
                }
                i = valueEnd + 1;
            }

            MultiaddrComponent component = new(protocol, value);
            byteCount += EncodedLength(component);
            if (byteCount > Multiaddr.MaxByteLength)
                return new($"binary form longer than {Multiaddr.MaxByteLength} bytes", protocol.Name, nameStart);
            components.Add(component);
        }
        if (components.Count == 0)
            return new("empty multiaddr", null, 0);

        string canonical = Format(components);
        if (canonical.Length > Multiaddr.MaxTextLength)        // e.g. certhash re-encoded in base64url
            return new($"printed form longer than {Multiaddr.MaxTextLength} characters", null, text.Length);
        result = new Multiaddr([.. components], Encode(components, byteCount), canonical);
        return null;
    }

    public static MultiaddrError? TryParseBinary(ReadOnlySpan<byte> bytes, out Multiaddr? result)
    {
        result = null;
        if (bytes.IsEmpty)
            return new("empty multiaddr", null, 0);
        if (bytes.Length > Multiaddr.MaxByteLength)
            return new($"longer than {Multiaddr.MaxByteLength} bytes", null, Multiaddr.MaxByteLength);

        List<MultiaddrComponent> components = new(4);
        StringBuilder text = new(bytes.Length * 2);
        int position = 0;
        while (position < bytes.Length)
        {
            int componentStart = position;
            if (components.Count == Multiaddr.MaxComponents)
                return new($"more than {Multiaddr.MaxComponents} components", null, position);
            if (!TryReadVarint(bytes[position..], out ulong code, out int codeLength, out string? error))
                return new(error ?? "truncated protocol code", null, position);
            if (code > int.MaxValue || !MultiaddrProtocol.TryGetByCode((int)code, out MultiaddrProtocol? protocol))
            {
                // Without the protocol we cannot know the value's size, so nothing after it is readable.
                string codeText = $"0x{code:x}";
                return new($"unknown protocol code {codeText}", codeText, position);
            }
            position += codeLength;

            byte[]? value = null;
            if (protocol!.Size != 0)
            {
                int length = protocol.Size;
                if (protocol.Size == MultiaddrProtocol.VariableSize)
                {
                    if (!TryReadVarint(bytes[position..], out ulong announced, out int prefixLength, out error))
                        return new(error ?? $"truncated {protocol.Name} value length", protocol.Name, position);
                    if (announced > (ulong)protocol.MaxValueLength)
                    {
                        return new($"{protocol.Name} value of {announced} bytes exceeds the {protocol.MaxValueLength}-byte limit",
                            protocol.Name, position);
                    }
                    if (announced == 0)
                        return new($"empty {protocol.Name} value", protocol.Name, position);
                    length = (int)announced;
                    position += prefixLength;
                }
                int remaining = bytes.Length - position;
                if (remaining < length)
                {
                    return new($"truncated {protocol.Name} value: {length} bytes needed, {remaining} left",
                        protocol.Name, position);
                }
                ReadOnlySpan<byte> valueBytes = bytes.Slice(position, length);
                string? reason = MultiaddrValues.Validate(protocol, valueBytes);
                if (reason is not null)
                    return new($"bad {protocol.Name} value ({reason})", protocol.Name, position);
                value = valueBytes.ToArray();
                position += length;
            }

            MultiaddrComponent component = new(protocol, value);
            AppendText(text, component);
            if (text.Length > Multiaddr.MaxTextLength)
                return new($"printed form longer than {Multiaddr.MaxTextLength} characters", protocol.Name, componentStart);
            components.Add(component);
        }
        result = new Multiaddr([.. components], bytes.ToArray(), text.ToString());
        return null;
    }

    /// <summary>Decodes a uvarint; false with a null error when truncated, with an error when over-long or not minimal.</summary>
    public static bool TryReadVarint(ReadOnlySpan<byte> source, out ulong value, out int length, out string? error)
    {
        error = null;
        try
        {
            if (Varint.TryRead(source, out value, out length))
                return true;
        }
        catch (ProtocolViolationException)
        {
            error = "over-long or not minimally encoded varint";
        }
        value = 0;
        length = 0;
        return false;
    }

    public static int EncodedLength(MultiaddrComponent component)
    {
        int length = Varint.GetByteCount((ulong)component.Protocol.Code);
        if (component.Value is { } value)
        {
            if (component.Protocol.Size == MultiaddrProtocol.VariableSize)
                length += Varint.GetByteCount((ulong)value.Length);
            length += value.Length;
        }
        return length;
    }

    public static byte[] Encode(IReadOnlyList<MultiaddrComponent> components, int byteCount)
    {
        byte[] bytes = new byte[byteCount];
        int position = 0;
        foreach (MultiaddrComponent component in components)
        {
            position += Varint.Write(bytes.AsSpan(position), (ulong)component.Protocol.Code);
            if (component.Value is not { } value)
                continue;
            if (component.Protocol.Size == MultiaddrProtocol.VariableSize)
                position += Varint.Write(bytes.AsSpan(position), (ulong)value.Length);
            value.CopyTo(bytes.AsSpan(position));
            position += value.Length;
        }
        return bytes;
    }

    public static string Format(IReadOnlyList<MultiaddrComponent> components)
    {
        StringBuilder text = new();
        foreach (MultiaddrComponent component in components)
            AppendText(text, component);
        return text.ToString();
    }

    private static void AppendText(StringBuilder text, MultiaddrComponent component)
    {
        text.Append('/').Append(component.Protocol.Name);
        if (component.Value is not { } value)
            return;
        // A path value starts with its own '/', which doubles as the separator.
        if (!component.Protocol.IsPath)
            text.Append('/');
        text.Append(MultiaddrValues.Format(component.Protocol, value));
    }

    private static int IndexOfSlash(string text, int start)
    {
        int index = text.IndexOf('/', start);
        return index < 0 ? text.Length : index;
    }
}
