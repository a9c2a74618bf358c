using System.Globalization;
using System.Text;

namespace Echo.Core.Files;

/// <summary>
/// Turns a file name from the network into one component that is safe to create in the downloads
/// folder on Linux, macOS and Windows: never a path, never hidden, never a device name, never
/// confusing on screen, and short enough for every file system.
/// </summary>
public static class SafeFileName
{
    /// <summary>Longest result in UTF-8 bytes: below every file system's 255, with room for " (999)".</summary>
    public const int MaxBytes = 200;

    private const string Fallback = "file";

    private static readonly HashSet<string> ReservedWindowsNames = new(StringComparer.OrdinalIgnoreCase)
    {
        "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$",
        "COM0", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9", "COM¹", "COM²", "COM³",
        "LPT0", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9", "LPT¹", "LPT²", "LPT³",
    };

    /// <summary>The safe form of <paramref name="name"/>; never empty, never a path.</summary>
    public static string Sanitize(string? name)
    {
        if (string.IsNullOrEmpty(name))
            return Fallback;
        if (name.Length > FileOffer.MaxNameLength)
            name = name[..FileOffer.MaxNameLength];
        // Unicode compatibility forms first, so that look-alikes (fullwidth solidus, one dot leader)
        // become the characters they imitate and are caught below. Lone surrogates cannot be normalized.
        string text = ReplaceLoneSurrogates(name);
        try
        {
            text = text.Normalize(NormalizationForm.FormKC);
        }
        catch (ArgumentException)
        {
            // unassigned code points: keep the text as it is; every character is still checked below
        }
        StringBuilder safe = new(text.Length);
        foreach (Rune rune in text.EnumerateRunes())
            safe.Append(IsAllowed(rune) ? rune.ToString() : "_");
        string result = safe.ToString().Trim(' ', '.');
        if (result.Length == 0 || result.All(c => c == '_'))
            return Fallback;
        result = Truncate(result);
        string stem = result.Split('.')[0].TrimEnd(' ');
        if (ReservedWindowsNames.Contains(stem))
            result = "_" + result;
        return result;
    }

    /// <summary>
    /// A path for <paramref name="safeName"/> in <paramref name="directory"/> that does not exist yet
    /// (not even as a dangling link): the name itself, else "name (1).ext", "name (2).ext", …
    /// </summary>
    public static string FreePath(string directory, string safeName, int attempt)
    {
        if (attempt == 0)
            return Path.Combine(directory, safeName);
        string extension = Path.GetExtension(safeName);
        if (extension.Length > 16 || extension.Length == safeName.Length)
            extension = "";
        string stem = safeName[..^extension.Length];
        return Path.Combine(directory, $"{stem} ({attempt}){extension}");
    }

    private static bool IsAllowed(Rune rune)
    {
        if (rune.Value < 0x20 || rune.Value == 0x7F)
            return false;
        if (rune.IsAscii)
            return rune.Value is not ('/' or '\\' or ':' or '*' or '?' or '"' or '<' or '>' or '|');
        return Rune.GetUnicodeCategory(rune) switch
        {
            UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.LineSeparator
                or UnicodeCategory.ParagraphSeparator or UnicodeCategory.Surrogate or UnicodeCategory.OtherNotAssigned
                or UnicodeCategory.PrivateUse => false,
            // slash and dot look-alikes that normalization keeps
            _ => rune.Value is not (0x2215 or 0x2044 or 0x29F8 or 0x29F9 or 0x2216 or 0xFE68 or 0x2024 or 0x2025 or 0x2026),
        };
    }

    private static string ReplaceLoneSurrogates(string text)
    {
        StringBuilder? copy = null;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            bool paired = char.IsHighSurrogate(c) ? i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])
                : !char.IsLowSurrogate(c) || (i > 0 && char.IsHighSurrogate(text[i - 1]));
            if (!paired && copy is null)
                copy = new StringBuilder(text, 0, i, text.Length);
            copy?.Append(paired ? c : '_');
        }
        return copy?.ToString() ?? text;
    }

    /// <summary>Cuts to <see cref="MaxBytes"/> UTF-8 bytes on a character boundary, keeping a short extension.</summary>
    private static string Truncate(string name)
    {
        if (Encoding.UTF8.GetByteCount(name) <= MaxBytes)
            return name;
        string extension = Path.GetExtension(name);
        if (extension.Length > 16 || extension.Length == name.Length)
            extension = "";
        int budget = MaxBytes - Encoding.UTF8.GetByteCount(extension);
        StringBuilder stem = new();
        int bytes = 0;
        foreach (Rune rune in name[..^extension.Length].EnumerateRunes())
        {
            if (bytes + rune.Utf8SequenceLength > budget)
                break;
            stem.Append(rune.ToString());
            bytes += rune.Utf8SequenceLength;
        }
        return stem.ToString().TrimEnd(' ', '.') + extension;
    }
}
