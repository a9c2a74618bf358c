namespace Echo.Core.Events;

/// <summary>The relays this node can be reached through changed (shown in the status bar); empty for none.</summary>
public sealed record RelaysEvent(IReadOnlyList<string> Relays) : ChatEvent;
