namespace Echo.Net.Yamux;

/// <summary>The code carried by a yamux GoAway frame: why a session ends.</summary>
public enum YamuxGoAwayCode : uint
{
    Normal = 0,
    ProtocolError = 1,
    InternalError = 2,
}
