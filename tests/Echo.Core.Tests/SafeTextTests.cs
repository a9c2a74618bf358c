using CsCheck;
using Echo.Core.Chat;

namespace Echo.Core.Tests;

public sealed class SafeTextTests
{
    [Theory]
    [InlineData("\u001b[2J\u001b[H", "\\x1b[2J\\x1b[H")]                 // CSI: clear screen, home
    [InlineData("\u001b]0;pwned\u0007", "\\x1b]0;pwned\\x07")]            // OSC: window title, BEL
    [InlineData("over\rwrite", "over\\rwrite")]
    [InlineData("a\u009bb", "a\\x9bb")]                                    // C1 CSI
    [InlineData("abc\u202Etxt.exe", "abc\\u202etxt.exe")]                   // right-to-left override
    [InlineData("\u2066isolate\u2069", "\\u2066isolate\\u2069")]
    [InlineData("plain text, ünïcödé 🙂", "plain text, ünïcödé 🙂")]
    public void ForDisplay_EscapesControlsAndKeepsTheRest(string input, string expected) =>
        Assert.Equal(expected, SafeText.ForDisplay(input));

    [Fact]
    public void ForDisplay_AnyString_NeverContainsControlOrBidiCharacters() =>
        Gen.String[Gen.Char, 0, 200].Sample(s =>
        {
            string shown = SafeText.ForDisplay(s);
            return !shown.Any(c => char.IsControl(c) || SafeText.IsFormatControl(c));
        }, iter: 20_000);
}
