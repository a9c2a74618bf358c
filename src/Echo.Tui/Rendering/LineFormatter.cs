using System.Globalization;
using Echo.Core.Chat;
using Echo.Core.Peers;
using Echo.Tui.Activity;

namespace Echo.Tui.Rendering;

/// <summary>
/// Turns chat messages, notices and peers into display lines. Every string that came from the
/// network (text, nick, room, peer id, address) goes through <see cref="SafeText.ForDisplay"/>
/// here, so nothing a peer sends can reach the terminal as a control or bidi character.
/// </summary>
internal static class LineFormatter
{
    /// <summary>How many distinct nick colours there are (see the views' palette).</summary>
    public const int NickColours = 9;

    private const string TimeFormat = "HH:mm:ss";
    private const string DateFormat = "yyyy-MM-dd";

    /// <summary>
    /// A chat message: time (with the date when it is from another day than <paramref name="today"/>),
    /// nick (in its colour, or ours), the text, with <paramref name="nick"/> highlighted where
    /// someone else's line mentions it.
    /// </summary>
    public static DisplayLine Message(ChatMessage message, string localPeerId, TimeZoneInfo zone, string? nick = null,
        DateOnly? today = null)
    {
        // "?" after the time: the author's clock was off, this is when it arrived (MessageClock).
        string time = (today is { } day && Day(message.Timestamp, zone) != day
            ? TimeZoneInfo.ConvertTime(message.Timestamp, zone).ToString(DateFormat + " ", CultureInfo.InvariantCulture)
            : "") + Time(message.Timestamp, zone) + (message.ClockClamped ? "?" : "");
        string sender = SafeText.ForDisplay(message.SenderLabel);
        bool own = message.Origin == MessageOrigin.Local || message.SenderId == localPeerId;
        List<Span> spans = [new(time + " ", Tone.Time)];
        if (message.Origin == MessageOrigin.EchoGo)
            spans.Add(new Span("[go] ", Tone.EchoGo));
        // A /me action reads "* nick waves".
        string shownNick = message.Action ? $"* {sender}" : $"<{sender}>";
        spans.Add(own
            ? new Span(shownNick, Tone.OwnNick)
            : new Span(shownNick, Tone.Nick, NickColour(message.SenderId)));
        spans.Add(new Span(" ", Tone.Text));
        int indent = spans.Sum(s => Columns.Of(s.Text));
        string text = SafeText.ForDisplay(message.Text);
        IReadOnlyList<(int Start, int Length)> mentions = own || nick is null ? [] : Mentions.Find(text, nick);
        if (mentions.Count > 0)
            spans[0] = new Span(time + " ", Tone.Mention); // the line stands out from its first column
        int at = 0;
        foreach ((int start, int length) in mentions)
        {
            if (start > at)
                spans.Add(new Span(text[at..start], Tone.Text));
            spans.Add(new Span(text.Substring(start, length), Tone.Mention));
            at = start + length;
        }
        if (at < text.Length || text.Length == 0)
            spans.Add(new Span(text[at..], Tone.Text));
        if (message.NotSaved)
            spans.Add(new Span(" [not saved]", Tone.Error));
        return new DisplayLine(spans, indent);
    }

    /// <summary>A notice, one display line per line of <paramref name="text"/>.</summary>
    public static IEnumerable<DisplayLine> Notice(string text, DateTimeOffset now, TimeZoneInfo zone) =>
        System(text, "-- ", Tone.Notice, now, zone);

    /// <summary>An error, one display line per line of <paramref name="text"/>.</summary>
    public static IEnumerable<DisplayLine> Error(string text, DateTimeOffset now, TimeZoneInfo zone) =>
        System(text, "!! ", Tone.Error, now, zone);

    /// <summary>A stable colour for a peer: the same peer id always gets the same one, on every run.</summary>
    public static int NickColour(string peerId)
    {
        // FNV-1a: string.GetHashCode is randomised per process.
        uint hash = 2166136261;
        foreach (char c in peerId)
        {
            hash ^= c;
            hash *= 16777619;
        }
        return (int)(hash % NickColours);
    }

    /// <summary>A peer in the side panel: its nick (or "?") and marker, then its short id, round trip, how it was found and how it is reached (via relay, direct).</summary>
    public static (DisplayLine Name, DisplayLine Detail) Peer(PeerInfo peer, DateTimeOffset? now = null)
    {
        List<Span> name = [new(SafeText.ForDisplay(peer.Label), Tone.Nick, NickColour(peer.PeerId))];
        if (peer.IsEchoGo)
            name.Add(new Span(" [go]", Tone.EchoGo));
        if (peer.AwayReason is not null)
            name.Add(new Span(" [away]", Tone.Dim));
        List<Span> detail = [new("  " + SafeText.ForDisplay(PeerInfo.ShortPeerId(peer.PeerId)), Tone.Dim)];
        if (peer.ReconnectText(now ?? DateTimeOffset.UtcNow) is { } reconnecting)
        {
            detail.Add(new Span(" " + reconnecting, Tone.Dim));
            return (new DisplayLine(name), new DisplayLine(detail));
        }
        if (peer.RoundTrip is { } rtt)
            detail.Add(new Span(" " + RoundTrip(rtt), Tone.Dim));
        detail.Add(new Span(" " + Source(peer.Source), Tone.Dim));
        // How it is reached: a relayed peer gets text only, which the user should see at a glance.
        detail.Add(peer.Relayed ? new Span(" via relay", Tone.Highlight) : new Span(" direct", Tone.Dim));
        return (new DisplayLine(name), new DisplayLine(detail));
    }

    /// <summary>How a peer was found, as /peers and the headless events say it: mdns, manual, inbound.</summary>
    public static string Source(PeerSource source) => source.ToString().ToLowerInvariant();

    /// <summary>A round trip as people read it: "0.4 ms", "12 ms", "1.2 s".</summary>
    public static string RoundTrip(TimeSpan rtt) =>
        rtt.TotalMilliseconds switch
        {
            < 10 => rtt.TotalMilliseconds.ToString("0.0", CultureInfo.InvariantCulture) + " ms",
            < 1000 => rtt.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture) + " ms",
            _ => rtt.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + " s",
        };

    /// <summary>Where we listen, short: the first address without our /p2p/ id, and how many more there are.</summary>
    public static string ListenSummary(IReadOnlyList<string> addresses) =>
        SafeText.ForDisplay(addresses.Count switch
        {
            0 => "not listening",
            1 => WithoutPeerId(addresses[0]),
            _ => $"{WithoutPeerId(addresses[0])} (+{addresses.Count - 1})",
        });

    /// <summary>The time column for <paramref name="timestamp"/> in local time.</summary>
    public static string Time(DateTimeOffset timestamp, TimeZoneInfo zone) =>
        TimeZoneInfo.ConvertTime(timestamp, zone).ToString(TimeFormat, CultureInfo.InvariantCulture);

    /// <summary>The local day of <paramref name="timestamp"/>.</summary>
    public static DateOnly Day(DateTimeOffset timestamp, TimeZoneInfo zone) =>
        DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(timestamp, zone).DateTime);

    /// <summary>The line between messages of two days: "── Sunday, 2026-12-06 ──".</summary>
    public static DisplayLine DayChange(DateOnly day) =>
        new([new Span($"── {day.ToString("dddd, " + DateFormat, CultureInfo.InvariantCulture)} ──", Tone.Marker)]);

    /// <summary>The read marker: the lines after it arrived while you were elsewhere.</summary>
    public static DisplayLine ReadMarker() => new([new Span("── new ──", Tone.Marker)]);

    private static IEnumerable<DisplayLine> System(string text, string marker, Tone tone, DateTimeOffset now, TimeZoneInfo zone)
    {
        string time = Time(now, zone) + " ";
        int indent = Columns.Of(time + marker);
        foreach (string line in text.Split('\n'))
            yield return new DisplayLine([new Span(time, Tone.Time), new Span(marker, tone), new Span(SafeText.ForDisplay(line), tone)], indent);
    }

    private static string WithoutPeerId(string address)
    {
        int p2p = address.LastIndexOf("/p2p/", StringComparison.Ordinal);
        return p2p > 0 ? address[..p2p] : address;
    }
}
