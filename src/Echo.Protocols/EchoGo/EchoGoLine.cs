using System.Text;
using Echo.Core.Chat;

namespace Echo.Protocols.EchoGo;

/// <summary>
/// echo-go's line protocol: on one long-lived stream per peer, each side writes UTF-8 lines
/// <c>&lt;username&gt;|&lt;text&gt;\n</c>. A line without '|' has no username.
/// </summary>
public static class EchoGoLine
{
    public const string ProtocolId = "/echo-go/chat/1.0.0";

    /// <summary>
    /// Bytes of one line (without its '\n') kept in memory: enough for a nick and the longest text; the
    /// rest of a longer line is read and discarded up to its '\n', and the line is shown truncated.
    /// </summary>
    public const int MaxLineBytes = 8 * 1024;

    /// <summary>Appended to a line's text that was cut to <see cref="ChatLimits.MaxTextBytes"/>.</summary>
    public const string TruncatedMarker = " […truncated]";

    /// <summary>Splits a line (without its '\n') at the first '|'; a trailing '\r' is dropped.</summary>
    /// <returns>The username (null when the line has no '|') and the text.</returns>
    public static (string? Username, string Text) Parse(string line)
    {
        if (line.EndsWith('\r'))
            line = line[..^1];
        int bar = line.IndexOf('|');
        return bar < 0 ? (null, line) : (line[..bar], line[(bar + 1)..]);
    }

    /// <summary>
    /// The text as shown: unchanged when it fits <see cref="ChatLimits.MaxTextBytes"/> and nothing was cut
    /// from the line; else cut on a character boundary so that it and <see cref="TruncatedMarker"/>
    /// together fit, followed by the marker.
    /// </summary>
    /// <param name="cut">The reader already cut the line (it was longer than <see cref="MaxLineBytes"/>).</param>
    public static string ForDisplay(string text, bool cut)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        if (!cut && bytes.Length <= ChatLimits.MaxTextBytes)
            return text;
        int room = ChatLimits.MaxTextBytes - Encoding.UTF8.GetByteCount(TruncatedMarker);
        int length = Math.Min(room, bytes.Length);
        while (length > 0 && length < bytes.Length && (bytes[length] & 0xC0) == 0x80)
            length--;
        return Encoding.UTF8.GetString(bytes, 0, length) + TruncatedMarker;
    }

    /// <summary>
    /// <c>nick|text\n</c> in UTF-8. Line breaks inside the text become spaces, so one message stays
    /// one line; the nick has no '|' (<see cref="Echo.Core.Chat.ChatLimits.CheckNick"/>).
    /// </summary>
    public static byte[] Format(string nick, string text)
    {
        string flat = text.Contains('\n') || text.Contains('\r') ? text.Replace("\r\n", " ").Replace('\r', ' ').Replace('\n', ' ') : text;
        return Encoding.UTF8.GetBytes($"{nick}|{flat}\n");
    }
}
