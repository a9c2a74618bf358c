using Echo.Tui.Rendering;
using Terminal.Gui.Drawing;
using Attribute = Terminal.Gui.Drawing.Attribute;

namespace Echo.Tui.Views;

/// <summary>Terminal colours for each <see cref="Tone"/>, over the background of the view that draws.</summary>
internal static class Palette
{
    // Readable on dark and light backgrounds alike; red is kept for errors, grey for detail.
    private static readonly ColorName16[] NickColours =
    [
        ColorName16.Cyan, ColorName16.Green, ColorName16.Yellow, ColorName16.Magenta, ColorName16.BrightBlue,
        ColorName16.BrightGreen, ColorName16.BrightCyan, ColorName16.BrightMagenta, ColorName16.BrightYellow,
    ];

    static Palette()
    {
        if (NickColours.Length != LineFormatter.NickColours)
            throw new InvalidOperationException("the nick palette and LineFormatter.NickColours disagree");
    }

    /// <summary>The attribute for <paramref name="span"/> given the view's normal attribute.</summary>
    public static Attribute For(Span span, Attribute normal)
    {
        Color background = normal.Background;
        return span.Tone switch
        {
            Tone.Time => new Attribute(new Color(ColorName16.DarkGray), background),
            Tone.Nick => new Attribute(new Color(NickColours[span.Colour % NickColours.Length]), background, TextStyle.Bold),
            Tone.OwnNick => new Attribute(normal.Foreground, background, TextStyle.Bold | TextStyle.Underline),
            Tone.EchoGo => new Attribute(new Color(ColorName16.Yellow), background, TextStyle.Italic),
            Tone.Notice => new Attribute(new Color(ColorName16.Cyan), background),
            Tone.Error => new Attribute(new Color(ColorName16.BrightRed), background, TextStyle.Bold),
            Tone.Dim => new Attribute(new Color(ColorName16.DarkGray), background),
            Tone.Highlight => new Attribute(normal.Foreground, background, TextStyle.Bold | TextStyle.Reverse),
            Tone.Mention => new Attribute(new Color(ColorName16.BrightYellow), background, TextStyle.Bold | TextStyle.Reverse),
            Tone.Direct => new Attribute(new Color(ColorName16.BrightMagenta), background, TextStyle.Bold),
            Tone.Marker => new Attribute(new Color(ColorName16.BrightBlue), background),
            _ => normal,
        };
    }
}
