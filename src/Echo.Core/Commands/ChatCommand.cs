namespace Echo.Core.Commands;

/// <summary>A parsed input line: text for the current room or a slash command.</summary>
public abstract record ChatCommand
{
    /// <summary>Text to send to the current room.</summary>
    public sealed record Say(string Text) : ChatCommand;

    /// <summary>/connect &lt;multiaddr&gt;</summary>
    public sealed record Connect(string Address) : ChatCommand;

    /// <summary>/join &lt;room&gt;: join (if needed) and make it the current room.</summary>
    public sealed record Join(string Room) : ChatCommand;

    /// <summary>/leave [room]: leave the given or the current room.</summary>
    public sealed record Leave(string? Room) : ChatCommand;

    /// <summary>/nick &lt;name&gt;</summary>
    public sealed record Nick(string Name) : ChatCommand;

    /// <summary>/msg &lt;nick|peer id&gt; &lt;text&gt;: a direct message to one peer.</summary>
    public sealed record Msg(string Target, string Text) : ChatCommand;

    /// <summary>/send &lt;path&gt; [peer]: offer a file to the current room, or to one peer.</summary>
    public sealed record Send(string Path, string? Target) : ChatCommand;

    /// <summary>/get &lt;id&gt;: fetch an offered file into the downloads folder.</summary>
    public sealed record Get(string Id) : ChatCommand;

    /// <summary>/cancel &lt;id&gt;: stops a download; /get resumes it.</summary>
    public sealed record Cancel(string Id) : ChatCommand;
    /// <summary>/forget &lt;peer&gt;: stop remembering (and redialing) a peer, by id, short id or nick.</summary>
    public sealed record Forget(string Target) : ChatCommand;

    /// <summary>/me &lt;action&gt;: an action in the current room, shown as <c>* nick action</c>.</summary>
    public sealed record Me(string Action) : ChatCommand;

    /// <summary>/away [reason] sets (with a reason) or clears (without) our away message; /back clears it.</summary>
    public sealed record Away(string? Reason) : ChatCommand;

    /// <summary>/whois &lt;nick|id&gt;: what is known of one peer.</summary>
    public sealed record Whois(string Target) : ChatCommand;

    /// <summary>/clear: clears the current conversation's screen in the face that typed it (not the history).</summary>
    public sealed record Clear : ChatCommand;

    /// <summary>/peers</summary>
    public sealed record Peers : ChatCommand;

    /// <summary>/stats: connections, streams, the memory budget and what each limit refused.</summary>
    public sealed record Stats : ChatCommand;

    /// <summary>/addrs: where this node listens, where peers observe it, and what it advertises.</summary>
    public sealed record Addrs : ChatCommand;

    /// <summary>/dht: the DHT's mode, routing table size, what it found and its last lookups.</summary>
    public sealed record Dht : ChatCommand;

    /// <summary>/rooms</summary>
    public sealed record Rooms : ChatCommand;

    /// <summary>/move [room] &lt;position&gt;: puts a room (the current one when null) at a 1-based place among the rooms.</summary>
    public sealed record Move(string? Room, int Position) : ChatCommand;

    /// <summary>/search &lt;text&gt;: the stored lines of the current room that contain the text.</summary>
    public sealed record Search(string Text) : ChatCommand;

    /// <summary>/help</summary>
    public sealed record Help : ChatCommand;

    /// <summary>/quit</summary>
    public sealed record Quit : ChatCommand;

    /// <summary>A line that could not be understood; <see cref="Message"/> says why.</summary>
    public sealed record Invalid(string Message) : ChatCommand;

    /// <summary>Nothing to do (an empty line).</summary>
    public sealed record Empty : ChatCommand;
}
