namespace Echo.Net.Yamux;

/// <summary>
/// The remote broke a yamux rule (bad header, data beyond the window, window overflow, wrong
/// stream-id parity). It costs the whole session: we answer with GoAway(<see cref="Code"/>).
/// </summary>
public sealed class YamuxProtocolException(string message, YamuxGoAwayCode code = YamuxGoAwayCode.ProtocolError)
    : ProtocolViolationException(YamuxOptions.ProtocolId, message)
{
    /// <summary>The code we send in our GoAway.</summary>
    public YamuxGoAwayCode Code { get; } = code;
}
