using System.Text;

namespace Echo.Core.Chat;

/// <summary>
/// Makes text from the network safe to put on a terminal or a page: control characters (ESC, BEL,
/// CR, the C1 range) and bidirectional overrides become visible escapes such as <c>\x1b</c> or
/// <c>\u202e</c>, so no message, nick or room name can move the cursor, retitle the window or
/// reorder what the user reads.
/// </summary>
public static class SafeText
{
    /// <summary>The text with every unsafe character replaced by a visible escape.</summary>
    public static string ForDisplay(string text)
    {
        int first = IndexOfUnsafe(text);
        if (first < 0)
            return text;
        StringBuilder builder = new(text.Length + 16);
        builder.Append(text, 0, first);
        for (int i = first; i < text.Length; i++)
        {
            char c = text[i];
            if (IsUnsafe(c))
                builder.Append(Escape(c));
            else
                builder.Append(c);
        }
        return builder.ToString();
    }

    /// <summary>A short description of a character for error messages, e.g. "'|'" or "U+001B".</summary>
    public static string Describe(char c) =>
        IsUnsafe(c) || char.IsWhiteSpace(c) ? $"U+{(int)c:X4}" : $"'{c}'";

    /// <summary>Bidirectional and other invisible format controls that reorder or hide text.</summary>
    public static bool IsFormatControl(char c) =>
        c is '\u061C' or '\u200E' or '\u200F' or (>= '\u202A' and <= '\u202E') or (>= '\u2066' and <= '\u2069');

    private static bool IsUnsafe(char c) =>
        char.IsControl(c) || IsFormatControl(c);

    private static int IndexOfUnsafe(string text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            if (IsUnsafe(text[i]))
                return i;
        }
        return -1;
    }

    private static string Escape(char c) => c switch
    {
        '\t' => "\\t",
        '\n' => "\\n",
        '\r' => "\\r",
        < '\u0100' => $"\\x{(int)c:x2}",
        _ => $"\\u{(int)c:x4}",
    };
}
