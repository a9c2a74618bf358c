using Echo.Core.Ports;

namespace Echo.Core.Events;

/// <summary>The answer to /stats: connections, streams, the memory budget and what each limit refused (after its <see cref="NoticeEvent"/> text).</summary>
public sealed record StatsEvent(NodeStats Stats) : ChatEvent;
