namespace Echo.Interop.Tests;

/// <summary>
/// The js peer refused a command, did not answer in time, failed to start or exited. The message
/// carries the js error text and the last lines the peer wrote to stderr.
/// </summary>
public sealed class JsPeerException(string message, string? jsError, string stderrTail, Exception? inner = null)
    : Exception(Compose(message, stderrTail), inner)
{
    /// <summary>The error text js reported (its exception's name and message), when it answered.</summary>
    public string? JsError { get; } = jsError;

    /// <summary>The last lines of the peer's stderr when the exception was raised.</summary>
    public string StderrTail { get; } = stderrTail;

    private static string Compose(string message, string stderrTail) =>
        stderrTail.Length == 0 ? message : $"{message}{Environment.NewLine}--- js peer stderr (tail) ---{Environment.NewLine}{stderrTail}";
}
