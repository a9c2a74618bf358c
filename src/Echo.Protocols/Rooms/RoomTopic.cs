namespace Echo.Protocols.Rooms;

/// <summary>Room names to gossipsub topics and back: a room is the topic <c>chat-room:&lt;room&gt;</c>.</summary>
public static class RoomTopic
{
    /// <summary>The prefix go-libp2p's pubsub chat example puts before the room name.</summary>
    public const string Prefix = "chat-room:";

    public static string ForRoom(string room) => Prefix + room;

    /// <summary>The room of a topic, or null when the topic is not a chat room.</summary>
    public static string? RoomOf(string topic) =>
        topic.StartsWith(Prefix, StringComparison.Ordinal) ? topic[Prefix.Length..] : null;
}
