using Echo.Core.Ports;

namespace Echo.Core.Events;

/// <summary>
/// /clear reached the chat: a face clears its view of <paramref name="Room"/> (the history stays).
/// The TUI and the web page handle /clear themselves, so only the face that typed it is cleared;
/// this event is for faces that pass the line on (headless reports it).
/// </summary>
public sealed record ClearEvent(string? Room) : ChatEvent;

/// <summary>
/// The answer to /whois. It is a <see cref="NoticeEvent"/> whose <see cref="NoticeEvent.Text"/> is the
/// answer as lines, so a face that knows nothing of it shows it as a notice; the fields are for faces
/// that show it their own way.
/// </summary>
/// <param name="PeerId">The peer's id.</param>
/// <param name="Nick">Its nick, if known.</param>
/// <param name="AwayReason">Its away message, or null when it is not away (or we do not know).</param>
/// <param name="Connections">Its open connections (empty when not connected).</param>
/// <param name="Addresses">Where it can be reached, as far as we know.</param>
/// <param name="RoundTrip">The last measured ping round trip, if any.</param>
/// <param name="FirstSeen">When we first saw it: from the peer book, else its first connection this run; null if never connected.</param>
/// <param name="FirstSeenThisRun">True when <paramref name="FirstSeen"/> is only the first connection since this node started.</param>
/// <param name="Text">The answer as readable lines.</param>
public sealed record WhoisEvent(
    string PeerId,
    string? Nick,
    string? AwayReason,
    IReadOnlyList<PeerConnectionDetails> Connections,
    IReadOnlyList<string> Addresses,
    TimeSpan? RoundTrip,
    DateTimeOffset? FirstSeen,
    bool FirstSeenThisRun,
    string Text) : NoticeEvent(Text);
