using Echo.Net;

namespace Echo.Protocols.Rooms;

/// <summary>A room message's data broke the wire format or a chat limit; the message says which.</summary>
public sealed class RoomMessageFormatException(string message, Exception? inner = null)
    : ProtocolViolationException(RoomTopic.Prefix, message, inner);
