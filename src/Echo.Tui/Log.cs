using Microsoft.Extensions.Logging;

namespace Echo.Tui;

internal static partial class Log
{
    [LoggerMessage(EventId = 3500, Level = LogLevel.Information, Message = "Terminal UI started with driver {Driver}, screen {Width}x{Height}")]
    public static partial void Started(ILogger logger, string driver, int width, int height);

    [LoggerMessage(EventId = 3501, Level = LogLevel.Information, Message = "Terminal UI stopped")]
    public static partial void Stopped(ILogger logger);

    [LoggerMessage(EventId = 3502, Level = LogLevel.Error, Message = "A submitted line failed")]
    public static partial void SubmitFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 3503, Level = LogLevel.Error, Message = "Applying chat events to the screen failed")]
    public static partial void ApplyFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 3504, Level = LogLevel.Debug, Message = "This Terminal.Gui has no hook for unknown escape sequences: an Alt key with more keys in the same read is dropped")]
    public static partial void AltKeyHookMissing(ILogger logger);
}
