namespace Echo.Core.Commands;

/// <summary>Turns an input line into a <see cref="ChatCommand"/>. Pure, so both UIs and tests share it.</summary>
public static class CommandParser
{
    /// <summary>One line per command, for /help.</summary>
    public static IReadOnlyList<string> HelpLines { get; } =
    [
        "/connect <multiaddr>   dial a peer, e.g. /ip4/127.0.0.1/tcp/8080 (the /p2p/<id> part is optional)",
        "/join <room>           join a room (#room or room) and switch to it",
        "/leave [room]          leave the current (or the given) room (also /part)",
        "/nick <name>           change your nick",
        "/msg <nick|id> <text>  send a direct message to one peer (queued until it is online);",
        "                       nick@<id> (the end of its peer id, as shown) picks one of peers sharing a nick",
        "/send <path> [peer]    offer a file to the current room, or to one peer (quote a path with spaces)",
        "/get <id>              download an offered file (a unique start of the id is enough)",
        "/cancel <id>           stop a download (/get <id> resumes it)",
        "/me <action>           say an action here (room or direct), shown as \"* nick action\"",
        "/away [reason]         tell peers you are away (no reason, or /back, clears it)",
        "/whois <nick|id>       a peer's id, addresses, connection, round trip, first seen, away message",
        "/clear                 clear this screen's view of the current room (the history stays)",
        "/peers                 list connected peers, and remembered ones that are away",
        "/forget <peer>         stop remembering and redialing a peer (id, short id or nick)",
        "/rooms                 list joined rooms",
        "/move [room] <n>       move a room (the current one) to place n in the list (kept across restarts)",
        "/stats                 connections, streams, memory budget and what each limit refused",
        "/addrs                 your listen addresses, where peers observe you (and how many), what you advertise",
        "/dht                   the DHT: mode, routing table size, peers and rooms found through it, the last lookups",
        "/search <text>         list the room's stored lines that contain the text (TUI: Ctrl+R; F3/Shift+F3 or n/N)",
        "/help                  this list",
        "/quit                  leave the chat",
        "Anything else is sent to the current room. Start a message with // to send a leading '/'.",
    ];

    /// <summary>Parses one line as typed by a user.</summary>
    public static ChatCommand Parse(string line)
    {
        string trimmed = line.Trim();
        if (trimmed.Length == 0)
            return new ChatCommand.Empty();
        if (!trimmed.StartsWith('/'))
            return new ChatCommand.Say(trimmed);
        if (trimmed.StartsWith("//", StringComparison.Ordinal))
            return new ChatCommand.Say(trimmed[1..]);

        int space = trimmed.IndexOf(' ');
        string name = (space < 0 ? trimmed[1..] : trimmed[1..space]).ToLowerInvariant();
        string argument = space < 0 ? "" : trimmed[(space + 1)..].Trim();
        return name switch
        {
            "connect" => argument.Length == 0 || argument.Contains(' ')
                ? new ChatCommand.Invalid("usage: /connect <multiaddr>")
                : new ChatCommand.Connect(argument),
            "join" => argument.Length == 0 || argument.Contains(' ')
                ? new ChatCommand.Invalid("usage: /join <room>")
                : new ChatCommand.Join(RoomName(argument)),
            "leave" or "part" => argument.Contains(' ')
                ? new ChatCommand.Invalid("usage: /leave [room]")
                : new ChatCommand.Leave(argument.Length == 0 ? null : RoomName(argument)),
            "nick" => argument.Length == 0 || argument.Contains(' ')
                ? new ChatCommand.Invalid("usage: /nick <name>")
                : new ChatCommand.Nick(argument),
            "msg" or "dm" => ParseMsg(argument),
            "send" => ParseSend(argument),
            "get" => argument.Length == 0 || argument.Contains(' ')
                ? new ChatCommand.Invalid("usage: /get <id>")
                : new ChatCommand.Get(argument),
            "cancel" => argument.Length == 0 || argument.Contains(' ')
                ? new ChatCommand.Invalid("usage: /cancel <id>")
                : new ChatCommand.Cancel(argument),
            "me" => argument.Length == 0
                ? new ChatCommand.Invalid("usage: /me <action>")
                : new ChatCommand.Me(argument),
            "away" => new ChatCommand.Away(argument.Length == 0 ? null : argument),
            "back" => new ChatCommand.Away(null),
            "whois" => argument.Length == 0 || argument.Contains(' ')
                ? new ChatCommand.Invalid("usage: /whois <nick|peer id>")
                : new ChatCommand.Whois(argument),
            "clear" => new ChatCommand.Clear(),
            "peers" => new ChatCommand.Peers(),
            "forget" => argument.Length == 0 || argument.Contains(' ')
                ? new ChatCommand.Invalid("usage: /forget <peer id|short id|nick>")
                : new ChatCommand.Forget(argument),
            "rooms" => new ChatCommand.Rooms(),
            "move" => ParseMove(argument),
            "stats" => new ChatCommand.Stats(),
            "addrs" => new ChatCommand.Addrs(),
            "dht" => new ChatCommand.Dht(),
            "search" => argument.Length == 0
                ? new ChatCommand.Invalid("usage: /search <text>")
                : new ChatCommand.Search(argument),
            "help" or "?" => new ChatCommand.Help(),
            "quit" or "exit" => new ChatCommand.Quit(),
            _ => new ChatCommand.Invalid($"unknown command /{name}; type /help for the list"),
        };
    }

    private static ChatCommand ParseMove(string argument)
    {
        string[] words = argument.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return words.Length is 1 or 2
               && int.TryParse(words[^1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int position)
               && position >= 1
            ? new ChatCommand.Move(words.Length == 2 ? RoomName(words[0]) : null, position)
            : new ChatCommand.Invalid("usage: /move [room] <position> (1 is the first room)");
    }

    /// <summary>A room as typed: "#ops" (as rooms are shown) and "ops" are the same room.</summary>
    private static string RoomName(string argument) =>
        argument.Length > 1 && argument[0] == '#' ? argument[1..] : argument;

    private static ChatCommand ParseMsg(string argument)
    {
        int space = argument.IndexOf(' ');
        return space <= 0 || argument[(space + 1)..].Trim().Length == 0
            ? new ChatCommand.Invalid("usage: /msg <nick|peer id> <text>")
            : new ChatCommand.Msg(argument[..space], argument[(space + 1)..].Trim());
    }

    /// <summary>/send path [peer], where a path with spaces is written in double quotes.</summary>
    private static ChatCommand ParseSend(string argument)
    {
        const string usage = "usage: /send <path> [peer]  (quote a path that has spaces)";
        string path, rest;
        if (argument.StartsWith('"'))
        {
            int close = argument.IndexOf('"', 1);
            if (close < 0)
                return new ChatCommand.Invalid(usage);
            path = argument[1..close];
            rest = argument[(close + 1)..].Trim();
        }
        else
        {
            int space = argument.IndexOf(' ');
            path = space < 0 ? argument : argument[..space];
            rest = space < 0 ? "" : argument[(space + 1)..].Trim();
        }
        return path.Length == 0 || rest.Contains(' ')
            ? new ChatCommand.Invalid(usage)
            : new ChatCommand.Send(path, rest.Length == 0 ? null : rest);
    }
}
