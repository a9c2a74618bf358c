using System.Text;
using CsCheck;
using Echo.Core.Files;

namespace Echo.Core.Tests.Files;

public sealed class SafeFileNameTests
{
    private static readonly string Root = Path.Combine(Path.GetTempPath(), "echo-downloads-root");

    /// <summary>What a name must satisfy to be created in the downloads folder.</summary>
    private static void AssertSafe(string original, string safe)
    {
        string full = Path.GetFullPath(Path.Combine(Root, safe));
        Assert.True(full.StartsWith(Root + Path.DirectorySeparatorChar, StringComparison.Ordinal), $"{original} -> {safe} escapes to {full}");
        Assert.Equal(safe, Path.GetFileName(safe));
        Assert.DoesNotContain('/', safe);
        Assert.DoesNotContain('\\', safe);
        Assert.DoesNotContain('\0', safe);
        Assert.NotEqual(".", safe);
        Assert.NotEqual("..", safe);
        Assert.False(safe.StartsWith('.'), $"{safe} is hidden");
        Assert.False(safe.EndsWith('.') || safe.EndsWith(' '), $"{safe} ends in a dot or space");
        Assert.True(Encoding.UTF8.GetByteCount(safe) <= SafeFileName.MaxBytes + 1, $"{safe} is too long");
        Assert.DoesNotContain(safe, c => char.IsControl(c) || char.GetUnicodeCategory(c) == System.Globalization.UnicodeCategory.Format);
        Assert.NotEmpty(safe);
    }

    public static TheoryData<string, string> Hostile => new()
    {
        { "../../x", "_.._x" },
        { "..\\x", "_x" },
        { "/etc/passwd", "_etc_passwd" },
        { "C:\\x", "C__x" },
        { "\\\\server\\share", "__server_share" },
        { "a/../../b", "a_.._.._b" },
        { "//x", "__x" },
        { "a\u0000b", "a_b" },
        { "CON", "_CON" },
        { "nul.txt", "_nul.txt" },
        { "com1.tar.gz", "_com1.tar.gz" },
        { "report.txt. . ", "report.txt" },
        { ".", "file" },
        { "..", "file" },
        { "", "file" },
        { ".bashrc", "bashrc" },
        { "evil\u202Etxt.exe", "evil_txt.exe" },
        { "\uFF0E\uFF0E\uFF0Fetc", "_etc" },
        { "a\u2215b", "a_b" },
        { "line\nbreak", "line_break" },
    };

    [Theory]
    [MemberData(nameof(Hostile))]
    public void Sanitize_HostileNames_BecomeOneSafeComponent(string name, string expected)
    {
        string safe = SafeFileName.Sanitize(name);
        AssertSafe(name, safe);
        Assert.Equal(expected, safe);
    }

    [Fact]
    public void Sanitize_LongName_IsCutOnACharacterBoundaryAndKeepsItsExtension()
    {
        string safe = SafeFileName.Sanitize(new string('é', 10_000) + ".pdf");
        AssertSafe("long", safe);
        Assert.EndsWith(".pdf", safe);
        Assert.True(Encoding.UTF8.GetByteCount(safe) <= SafeFileName.MaxBytes);
    }

    [Fact]
    public void FreePath_NumbersBeforeTheExtension()
    {
        Assert.Equal(Path.Combine(Root, "a.txt"), SafeFileName.FreePath(Root, "a.txt", 0));
        Assert.Equal(Path.Combine(Root, "a (1).txt"), SafeFileName.FreePath(Root, "a.txt", 1));
        Assert.Equal(Path.Combine(Root, "noext (2)"), SafeFileName.FreePath(Root, "noext", 2));
    }

    private static readonly Gen<char> HostileChar = Gen.Frequency(
        (6, Gen.Char["./\\:*?\"<>| \0\t\r\n\u0085~$"]),
        (4, Gen.Char['a', 'z']),
        (2, Gen.Char["CONULPTAXMR1239"]),
        (2, Gen.Char["\u202A\u202B\u202C\u202D\u202E\u2066\u2067\u2068\u2069\u200E\u200F\u200B\uFEFF\u2028\u2029"]),
        (2, Gen.Char["\uFF0E\uFF0F\uFF3C\u2215\u2044\u2024\u2025\uFE52\u00B9\u00B2\u00B3"]),
        (1, Gen.Char['\uD800', '\uDFFF']),
        (2, Gen.Char));

    private static readonly Gen<string> HostileName = Gen.Frequency(
        (20, Gen.String[HostileChar, 0, 40]),
        (1, Gen.String[HostileChar, 200, 600]),
        (2, Gen.Select(Gen.String[HostileChar, 0, 10], Gen.OneOf<string>("..", "../", "..\\", "/", "C:\\", "\\\\srv\\", "CON", "nul", "COM1."),
            Gen.String[HostileChar, 0, 10], (a, b, c) => b + a + b + c)));

    /// <summary>Rule F-3 (docs/LIMITS.md): every generated name stays inside the downloads root as one safe component.</summary>
    [Fact(Timeout = 120_000)]
    public void Sanitize_GeneratedNames_NeverLeaveTheRoot()
    {
        HostileName.Sample(name => AssertSafe(name, SafeFileName.Sanitize(name)), iter: 100_000, threads: 1);
    }
}
