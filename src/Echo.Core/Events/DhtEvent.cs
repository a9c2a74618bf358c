using Echo.Core.Ports;

namespace Echo.Core.Events;

/// <summary>
/// The DHT's numbers: sent when what the faces show changed, and as the answer to /dht (after its
/// <see cref="NoticeEvent"/> text, with <see cref="Requested"/> set).
/// </summary>
public sealed record DhtEvent(DhtStatus Status, bool Requested) : ChatEvent
{
    /// <summary>Whether <paramref name="room"/> was found through the DHT (a lookup found other members).</summary>
    public bool FoundRoom(string? room) => room is not null && Status.RoomsFound.Contains(room, StringComparer.Ordinal);
}
