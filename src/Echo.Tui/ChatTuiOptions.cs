using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Tui;

/// <summary>Settings of the terminal chat UI.</summary>
public sealed record ChatTuiOptions
{
    /// <summary>Where the UI logs (never the terminal it draws on).</summary>
    public ILogger Logger { get; init; } = NullLogger.Instance;

    /// <summary>The clock and time zone for notice times and the local time of messages.</summary>
    public TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>Lines kept per room on screen (messages, notices, errors).</summary>
    public int ScrollbackLines { get; init; } = 2000;

    /// <summary>Ring the terminal bell when a mention or a direct message arrives from someone else.</summary>
    public bool Bell { get; init; } = true;

    /// <summary>The Terminal.Gui driver to use; null picks the platform's default.</summary>
    internal string? Driver { get; init; }

    /// <summary>A fixed screen size instead of the terminal's (tests).</summary>
    internal (int Width, int Height)? ScreenSize { get; init; }

    /// <summary>Throws when a setting is out of range.</summary>
    public void Validate() => ArgumentOutOfRangeException.ThrowIfLessThan(ScrollbackLines, 10);
}
