using Microsoft.Extensions.Logging;

namespace Echo.Cli;

/// <summary>Source-generated log messages of the echo-chat executable, EventIds 3900-3999.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 3900, Level = LogLevel.Information,
        Message = "echo-chat {Version} starting as {PeerId} in {DataDirectory} (culture {Culture}, UI culture {UiCulture})")]
    public static partial void Starting(ILogger logger, string version, string peerId, string dataDirectory, string culture, string uiCulture);
}
