namespace Echo.Core.Conversations;

/// <summary>What a conversation is held with: everyone in a room, or one peer.</summary>
public enum ConversationKind
{
    /// <summary>A room (gossipsub topic) that everyone in it reads.</summary>
    Room,

    /// <summary>Direct messages with one peer.</summary>
    Direct,
}

/// <summary>
/// One conversation: a room (<see cref="Room(string)"/>) or the direct messages with one peer
/// (<see cref="Direct(string)"/>). Faces key their lists and screens by it; <see cref="Key"/> is
/// its text form for machines ("#room" or "@peer id": room names cannot start with '@').
/// </summary>
public sealed record ConversationId
{
    private ConversationId(ConversationKind kind, string name)
    {
        Kind = kind;
        Name = name;
    }

    /// <summary>A room or a peer.</summary>
    public ConversationKind Kind { get; }

    /// <summary>The room's name, or the peer's id.</summary>
    public string Name { get; }

    /// <summary>True for a room.</summary>
    public bool IsRoom => Kind == ConversationKind.Room;

    /// <summary>True for the direct messages with one peer.</summary>
    public bool IsDirect => Kind == ConversationKind.Direct;

    /// <summary>The room's name, or null for a direct conversation.</summary>
    public string? RoomName => IsRoom ? Name : null;

    /// <summary>The peer's id, or null for a room.</summary>
    public string? PeerId => IsDirect ? Name : null;

    /// <summary>"#room" or "@peer id": the text form faces use as a key (e.g. in the web page's JSON).</summary>
    public string Key => (IsRoom ? "#" : "@") + Name;

    /// <summary>The conversation of room <paramref name="room"/>.</summary>
    public static ConversationId Room(string room)
    {
        ArgumentException.ThrowIfNullOrEmpty(room);
        return new ConversationId(ConversationKind.Room, room);
    }

    /// <summary>The direct conversation with <paramref name="peerId"/>.</summary>
    public static ConversationId Direct(string peerId)
    {
        ArgumentException.ThrowIfNullOrEmpty(peerId);
        return new ConversationId(ConversationKind.Direct, peerId);
    }

    /// <summary>Reads a <see cref="Key"/>; null when <paramref name="key"/> is not one.</summary>
    public static ConversationId? TryParse(string? key) => key switch
    {
        { Length: >= 2 } when key[0] == '#' => Room(key[1..]),
        { Length: >= 2 } when key[0] == '@' => Direct(key[1..]),
        _ => null,
    };

    /// <inheritdoc/>
    public override string ToString() => Key;
}
