using System.Text;

namespace Echo.Protocols.EchoGo;

/// <summary>
/// echo-go's line protocol: on one long-lived stream per peer, each side writes UTF-8 lines
/// <c>&lt;username&gt;|&lt;text&gt;\n</c>. A line without '|' has no username.
/// </summary>
public static class EchoGoLine
{
    public const string ProtocolId = "/echo-go/chat/1.0.0";

    /// <summary>Longest line accepted, in bytes without its '\n'; a longer one closes the stream.</summary>
    public const int MaxLineBytes = 64 * 1024;

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
    /// <c>nick|text\n</c> in UTF-8. Line breaks inside the text become spaces, so one message stays
    /// one line; the nick has no '|' (<see cref="Echo.Core.Chat.ChatLimits.CheckNick"/>).
    /// </summary>
    public static byte[] Format(string nick, string text)
    {
        string flat = text.Contains('\n') || text.Contains('\r') ? text.Replace("\r\n", " ").Replace('\r', ' ').Replace('\n', ' ') : text;
        return Encoding.UTF8.GetBytes($"{nick}|{flat}\n");
    }
}
