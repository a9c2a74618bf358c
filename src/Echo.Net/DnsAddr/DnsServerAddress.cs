using System.Globalization;
using System.Net;

namespace Echo.Net.DnsAddr;

/// <summary>Reads the resolver address the command line names (<c>--dns ADDRESS[:PORT]</c>).</summary>
public static class DnsServerAddress
{
    /// <summary>The DNS port.</summary>
    public const int DefaultPort = 53;

    /// <summary>
    /// Parses <c>1.2.3.4</c>, <c>1.2.3.4:5353</c>, <c>::1</c> or <c>[::1]:5353</c> (port 53 when none is given).
    /// </summary>
    /// <exception cref="FormatException">The text is not an IP address with an optional port from 1 to 65535.</exception>
    public static IPEndPoint Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string t = text.Trim();
        if (IPAddress.TryParse(t, out IPAddress? bare) && !t.StartsWith('['))
            return new IPEndPoint(bare, DefaultPort);
        if (IPEndPoint.TryParse(t, out IPEndPoint? endPoint) && (t.StartsWith('[') || !t.Contains("::", StringComparison.Ordinal))
            && HasPort(t))
        {
            return endPoint.Port is > 0 and <= 65535
                ? endPoint
                : throw new FormatException($"{text}: the port must be from 1 to 65535");
        }
        throw new FormatException($"{text}: not an IP address with an optional port, such as 10.0.0.53, 127.0.0.1:5353 or [::1]:5353");
    }

    private static bool HasPort(string text)
    {
        int colon = text.LastIndexOf(':');
        return colon > 0 && int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out _);
    }
}
