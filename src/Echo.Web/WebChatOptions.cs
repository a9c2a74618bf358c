using System.Globalization;
using System.Net;

namespace Echo.Web;

/// <summary>Settings of the <see cref="WebChatServer"/>.</summary>
public sealed record WebChatOptions
{
    /// <summary>The default address: loopback only, any free port.</summary>
    public static readonly IPEndPoint DefaultEndPoint = new(IPAddress.Loopback, 0);

    /// <summary>Where to listen; port 0 picks a free one.</summary>
    public IPEndPoint EndPoint { get; init; } = DefaultEndPoint;

    /// <summary>
    /// Must be true to listen on an address other machines can reach (anything but 127.0.0.0/8 and
    /// ::1); anyone who learns the URL can then use the chat.
    /// </summary>
    public bool AllowRemote { get; init; }

    /// <summary>The access token in the URL; null generates a random one (256 bits). Tests fix it.</summary>
    public string? Token { get; init; }

    /// <summary>Browser sessions kept at once; opening the URL again past this forgets the oldest.</summary>
    public int MaxSessions { get; init; } = 32;

    /// <summary>WebSockets open at once; more are refused with 503.</summary>
    public int MaxWebSockets { get; init; } = 16;

    /// <summary>The largest message a browser may send over the WebSocket, in bytes.</summary>
    public int MaxIncomingMessageBytes { get; init; } = 64 * 1024;

    /// <summary>
    /// Connections without a session kept at once; a new one closes the oldest. A browser signs in
    /// on its first request, so only a process without the token ever holds one for long.
    /// </summary>
    public int MaxUnauthenticatedConnections { get; init; } = 16;

    /// <summary>How long a connection may stay without a session before it is closed.</summary>
    public TimeSpan UnauthenticatedLifetime { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a request's headers may take to arrive (a browser on this machine sends them at once).</summary>
    public TimeSpan HeadersTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Throws when a setting is out of range or a remote address is not explicitly allowed.</summary>
    public void Validate()
    {
        if (!AllowRemote && !IPAddress.IsLoopback(EndPoint.Address))
            throw new ArgumentException($"{Format(EndPoint)} is reachable from other machines; allow it explicitly (--web-allow-remote)");
        if (Token is { Length: < 22 })
            throw new ArgumentException("the access token must have at least 128 bits (22 base64url characters)", nameof(Token));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxSessions, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxWebSockets, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxUnauthenticatedConnections, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(UnauthenticatedLifetime, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(HeadersTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxIncomingMessageBytes, 4096);
    }

    /// <summary>
    /// Reads a listen address as given on the command line: <c>127.0.0.1:8080</c>, <c>[::1]:8080</c>,
    /// <c>localhost:8080</c>, a bare port (on 127.0.0.1) or a bare address (any port). Throws
    /// <see cref="FormatException"/> naming what is wrong.
    /// </summary>
    public static IPEndPoint ParseEndPoint(string text)
    {
        text = text.Trim();
        if (text.Length > 0 && text.All(char.IsAsciiDigit))
            return new IPEndPoint(IPAddress.Loopback, ParsePort(text, text));
        if (text.StartsWith("localhost", StringComparison.OrdinalIgnoreCase))
        {
            string rest = text["localhost".Length..];
            if (rest.Length == 0)
                return DefaultEndPoint;
            if (rest[0] == ':')
                return new IPEndPoint(IPAddress.Loopback, ParsePort(rest[1..], text));
        }
        // IPEndPoint.TryParse alone would read "8080x" or "1.2" as IPv4 addresses; ask for a dotted quad or brackets.
        bool looksLikeAddress = text.StartsWith('[') || text.Count(c => c == '.') == 3 || IPAddress.TryParse(text, out IPAddress? _) && text.Contains(':');
        if (!looksLikeAddress || !IPEndPoint.TryParse(text, out IPEndPoint? endPoint))
            throw new FormatException($"'{text}' is not an address and port such as 127.0.0.1:8080, [::1]:8080 or a bare port");
        return endPoint;
    }

    /// <summary>The address as a URL authority: <c>127.0.0.1:8080</c> or <c>[::1]:8080</c>.</summary>
    public static string Format(IPEndPoint endPoint) => endPoint.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
        ? $"[{endPoint.Address}]:{endPoint.Port}"
        : $"{endPoint.Address}:{endPoint.Port}";

    private static int ParsePort(string port, string whole) =>
        int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out int value) && value <= 65535
            ? value
            : throw new FormatException($"'{whole}': the port must be 0 to 65535");
}
