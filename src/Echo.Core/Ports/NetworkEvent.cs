using Echo.Core.Chat;
using Echo.Core.Peers;

namespace Echo.Core.Ports;

/// <summary>What the network tells the chat.</summary>
public abstract record NetworkEvent;

/// <summary>A message arrived in a room we joined (already validated by the adapter).</summary>
public sealed record MessageArrived(ChatMessage Message) : NetworkEvent;

/// <summary>A peer connected.</summary>
public sealed record PeerJoined(PeerInfo Peer) : NetworkEvent;

/// <summary>A peer's connection closed.</summary>
public sealed record PeerLeft(string PeerId) : NetworkEvent;

/// <summary>Something new is known about a connected peer (a ping round trip, echo-go support).</summary>
public sealed record PeerChanged(string PeerId, TimeSpan? RoundTrip, bool? IsEchoGo) : NetworkEvent;
