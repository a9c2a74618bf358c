using System.Globalization;

namespace Echo.Tui.Activity;

/// <summary>Whether a line mentions a nick: the nick as a whole word, in any case ("Alice:", "@alice", "hi ALICE!").</summary>
internal static class Mentions
{
    /// <summary>True when <paramref name="text"/> holds <paramref name="nick"/> with no letter, digit or '_' '-' right before or after it.</summary>
    public static bool Contains(string text, string nick)
    {
        if (nick.Length == 0 || text.Length < nick.Length)
            return false;
        for (int at = text.IndexOf(nick, StringComparison.OrdinalIgnoreCase); at >= 0;
             at = at + 1 < text.Length ? text.IndexOf(nick, at + 1, StringComparison.OrdinalIgnoreCase) : -1)
        {
            if (IsBoundary(text, at - 1) && IsBoundary(text, at + nick.Length))
                return true;
        }
        return false;
    }

    /// <summary>The [start, start+length) ranges of <paramref name="text"/> where <paramref name="nick"/> is mentioned, for highlighting.</summary>
    public static IReadOnlyList<(int Start, int Length)> Find(string text, string nick)
    {
        List<(int, int)> found = [];
        if (nick.Length == 0)
            return found;
        int at = text.IndexOf(nick, StringComparison.OrdinalIgnoreCase);
        while (at >= 0)
        {
            if (IsBoundary(text, at - 1) && IsBoundary(text, at + nick.Length))
            {
                found.Add((at, nick.Length));
                at += nick.Length;
            }
            else
            {
                at++;
            }
            at = at < text.Length ? text.IndexOf(nick, at, StringComparison.OrdinalIgnoreCase) : -1;
        }
        return found;
    }

    private static bool IsBoundary(string text, int index)
    {
        if (index < 0 || index >= text.Length)
            return true;
        char c = text[index];
        if (char.IsLetterOrDigit(c) || c is '_' or '-')
            return false;
        // A combining mark right after the nick makes it another word ("alicé").
        return CharUnicodeInfo.GetUnicodeCategory(c) is not (UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark);
    }
}
