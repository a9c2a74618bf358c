namespace Echo.Core.Events;

/// <summary>The relays this node can be reached through changed (shown in the status bar); empty for none.</summary>
public sealed record RelaysEvent(IReadOnlyList<string> Relays) : ChatEvent
{
    /// <summary>The reservations behind <see cref="Relays"/>, with the limits each relay granted (empty when not known).</summary>
    public IReadOnlyList<Ports.RelayReservationInfo> Reservations { get; init; } = [];
}
