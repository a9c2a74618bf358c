namespace Echo.Net.Yamux;

/// <summary>The remote ended the session with a GoAway carrying an error code.</summary>
/// <remarks>
/// Not a <see cref="ProtocolViolationException"/>: the remote broke nothing, it reported that it
/// failed (or that it thinks we did).
/// </remarks>
public sealed class YamuxGoAwayException(uint code)
    : IOException($"{YamuxOptions.ProtocolId}: the remote ended the session with GoAway code {code} ({Describe(code)})")
{
    /// <summary>The raw GoAway code (0 normal, 1 protocol error, 2 internal error; others unknown).</summary>
    public uint Code { get; } = code;

    private static string Describe(uint code) => code switch
    {
        (uint)YamuxGoAwayCode.Normal => "normal",
        (uint)YamuxGoAwayCode.ProtocolError => "protocol error",
        (uint)YamuxGoAwayCode.InternalError => "internal error",
        _ => "unknown",
    };
}
