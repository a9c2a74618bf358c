using Echo.Tui.Input;
using Terminal.Gui.Input;

namespace Echo.Tui.Tests.Input;

public sealed class AltKeySequencesTests
{
    [Fact]
    public void AnAltKeyWithKeysAfterIt_StandsForAltAndEachKey()
    {
        IReadOnlyList<Key>? keys = AltKeySequences.Keys("\u001bbX y");
        Assert.NotNull(keys);
        Assert.Equal([new Key('b').WithAlt, new Key('X'), new Key(' '), new Key('y')], keys);
    }

    [Theory]
    [InlineData("\u001b[99;5~")]    // an unknown CSI sequence
    [InlineData("\u001bOZ")]        // SS3
    [InlineData("\u001b]11;?")]     // OSC
    [InlineData("\u001b\rx")]       // a control character after ESC
    [InlineData("\u001bbx\ty")]     // a control character after the Alt key
    [InlineData("\u001b")]          // ESC alone is the parser's
    [InlineData("bx")]            // no ESC
    public void WhatIsNotAnAltKeyWithKeysAfterIt_IsLeftToTheParser(string held) =>
        Assert.Null(AltKeySequences.Keys(held));
}
