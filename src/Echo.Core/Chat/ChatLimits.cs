using System.Text;

namespace Echo.Core.Chat;

/// <summary>
/// The limits the chat enforces on what users type and on what peers send. One place, so the
/// error a user sees names the same number the network adapter checks.
/// </summary>
public static class ChatLimits
{
    /// <summary>Largest message text, in UTF-8 bytes. A chat line, not a file: files have their own transfer.</summary>
    public const int MaxTextBytes = 4096;

    /// <summary>Longest nick, in characters.</summary>
    public const int MaxNickLength = 32;

    /// <summary>Longest room name, in characters (it becomes part of a topic name).</summary>
    public const int MaxRoomLength = 64;

    /// <summary>Returns null when <paramref name="text"/> may be sent, else the reason it may not.</summary>
    public static string? CheckText(string text)
    {
        if (string.IsNullOrWhiteSpace(text))
            return "message is empty";
        int bytes = Encoding.UTF8.GetByteCount(text);
        return bytes > MaxTextBytes
            ? $"message is {bytes} bytes; the limit is {MaxTextBytes} bytes"
            : null;
    }

    /// <summary>
    /// Returns null when <paramref name="nick"/> is acceptable, else why not. Nicks are single words
    /// without '|' (echo-go's line separator) or control characters, so they survive every wire format.
    /// </summary>
    public static string? CheckNick(string nick)
    {
        if (nick.Length == 0)
            return "nick is empty";
        if (nick.Length > MaxNickLength)
            return $"nick is {nick.Length} characters; the limit is {MaxNickLength}";
        foreach (char c in nick)
        {
            if (char.IsWhiteSpace(c) || char.IsControl(c) || c == '|' || SafeText.IsFormatControl(c))
                return $"nick may not contain {SafeText.Describe(c)}";
        }
        return null;
    }

    /// <summary>
    /// Returns null when <paramref name="room"/> is a valid room name, else why not: letters, digits,
    /// '-', '_' and '.', so a room name is safe in a topic, a file name and a URL.
    /// </summary>
    public static string? CheckRoom(string room)
    {
        if (room.Length == 0)
            return "room name is empty";
        if (room.Length > MaxRoomLength)
            return $"room name is {room.Length} characters; the limit is {MaxRoomLength}";
        foreach (char c in room)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
                return $"room name may not contain {SafeText.Describe(c)} (use letters, digits, '-', '_' or '.')";
        }
        return null;
    }
}
