using CsCheck;
using Echo.Core.Commands;

namespace Echo.Core.Tests.Commands;

/// <summary>The typed line as both faces hand it to the chat: text, commands, their arguments and their usage errors.</summary>
public class CommandParserTests
{
    [Theory]
    [InlineData("hello", "hello")]
    [InlineData("  hello world  ", "hello world")]
    [InlineData("//join is not a command", "/join is not a command")]
    [InlineData("//", "/")]
    public void Text_IsSaid_AndADoubleSlashSendsALeadingSlash(string line, string said) =>
        Assert.Equal(new ChatCommand.Say(said), CommandParser.Parse(line));

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("\t")]
    public void ABlankLine_IsEmpty(string line) => Assert.IsType<ChatCommand.Empty>(CommandParser.Parse(line));

    public static TheoryData<string, ChatCommand> Commands => new()
    {
        { "/connect /ip4/127.0.0.1/tcp/8080", new ChatCommand.Connect("/ip4/127.0.0.1/tcp/8080") },
        { "/join ops", new ChatCommand.Join("ops") },
        { "/join #ops", new ChatCommand.Join("ops") },     // rooms are shown as #ops
        { "/leave #ops", new ChatCommand.Leave("ops") },
        { "/join #", new ChatCommand.Join("#") },          // a lone # is a name, checked by the room rules
        { "/leave", new ChatCommand.Leave(null) },
        { "/leave ops", new ChatCommand.Leave("ops") },
        { "/part ops", new ChatCommand.Leave("ops") },
        { "/nick bobby", new ChatCommand.Nick("bobby") },
        { "/msg alice hi there", new ChatCommand.Msg("alice", "hi there") },
        { "/dm alice@1a2b3c4d  hi ", new ChatCommand.Msg("alice@1a2b3c4d", "hi") },
        { "/send report.pdf", new ChatCommand.Send("report.pdf", null) },
        { "/send report.pdf bob", new ChatCommand.Send("report.pdf", "bob") },
        { "/send \"my file.pdf\"", new ChatCommand.Send("my file.pdf", null) },
        { "/send \"my file.pdf\" bob", new ChatCommand.Send("my file.pdf", "bob") },
        { "/get 8ab1c2", new ChatCommand.Get("8ab1c2") },
        { "/cancel 8ab1c2", new ChatCommand.Cancel("8ab1c2") },
        { "/forget alice", new ChatCommand.Forget("alice") },
        { "/peers", new ChatCommand.Peers() },
        { "/rooms", new ChatCommand.Rooms() },
        { "/stats", new ChatCommand.Stats() },
        { "/dht", new ChatCommand.Dht() },
        { "/move 2", new ChatCommand.Move(null, 2) },
        { "/move ops 1", new ChatCommand.Move("ops", 1) },
        { "/move #ops  3", new ChatCommand.Move("ops", 3) },
        { "/search  deploy key ", new ChatCommand.Search("deploy key") },
        { "/help", new ChatCommand.Help() },
        { "/?", new ChatCommand.Help() },
        { "/quit", new ChatCommand.Quit() },
        { "/exit", new ChatCommand.Quit() },
        { "/me waves", new ChatCommand.Me("waves") },
        { "/me   waves  at   bob ", new ChatCommand.Me("waves  at   bob") },
        { "/ME waves", new ChatCommand.Me("waves") },
        { "/away", new ChatCommand.Away(null) },
        { "/away lunch, back at 2", new ChatCommand.Away("lunch, back at 2") },
        { "/back", new ChatCommand.Away(null) },
        { "/whois alice", new ChatCommand.Whois("alice") },
        { "/whois alice@1a2b3c4d", new ChatCommand.Whois("alice@1a2b3c4d") },
        { "/clear", new ChatCommand.Clear() },
        { "/part", new ChatCommand.Leave(null) },
        { "/JOIN Ops", new ChatCommand.Join("Ops") },   // the command name is case-insensitive, its argument is kept
    };

    [Theory]
    [MemberData(nameof(Commands))]
    public void ACommand_IsParsedWithItsArguments(string line, ChatCommand expected) =>
        Assert.Equal(expected, CommandParser.Parse(line));

    [Theory]
    [InlineData("/connect", "usage: /connect <multiaddr>")]
    [InlineData("/connect a b", "usage: /connect <multiaddr>")]
    [InlineData("/join", "usage: /join <room>")]
    [InlineData("/join two words", "usage: /join <room>")]
    [InlineData("/leave a b", "usage: /leave [room]")]
    [InlineData("/nick", "usage: /nick <name>")]
    [InlineData("/nick two words", "usage: /nick <name>")]
    [InlineData("/msg", "usage: /msg <nick|peer id> <text>")]
    [InlineData("/msg alice", "usage: /msg <nick|peer id> <text>")]
    [InlineData("/msg alice    ", "usage: /msg <nick|peer id> <text>")]
    [InlineData("/send", "usage: /send <path> [peer]  (quote a path that has spaces)")]
    [InlineData("/send \"unclosed.pdf", "usage: /send <path> [peer]  (quote a path that has spaces)")]
    [InlineData("/send a b c", "usage: /send <path> [peer]  (quote a path that has spaces)")]
    [InlineData("/get", "usage: /get <id>")]
    [InlineData("/search", "usage: /search <text>")]
    [InlineData("/cancel", "usage: /cancel <id>")]
    [InlineData("/forget", "usage: /forget <peer id|short id|nick>")]
    [InlineData("/me", "usage: /me <action>")]
    [InlineData("/me    ", "usage: /me <action>")]
    [InlineData("/whois", "usage: /whois <nick|peer id>")]
    [InlineData("/whois two words", "usage: /whois <nick|peer id>")]
    [InlineData("/move", "usage: /move [room] <position> (1 is the first room)")]
    [InlineData("/move 0", "usage: /move [room] <position> (1 is the first room)")]
    [InlineData("/move ops", "usage: /move [room] <position> (1 is the first room)")]
    [InlineData("/move ops -1", "usage: /move [room] <position> (1 is the first room)")]
    [InlineData("/move a 1 2", "usage: /move [room] <position> (1 is the first room)")]
    [InlineData("/frobnicate now", "unknown command /frobnicate; type /help for the list")]
    public void AMalformedCommand_SaysHowToUseIt(string line, string message) =>
        Assert.Equal(new ChatCommand.Invalid(message), CommandParser.Parse(line));

    [Fact]
    public void EveryCommandTheParserKnows_IsInTheHelp()
    {
        string help = string.Join('\n', CommandParser.HelpLines);
        foreach (string name in (string[])["connect", "join", "leave", "part", "nick", "msg", "send", "get", "cancel", "me", "away", "back", "whois", "clear", "peers", "forget", "rooms", "move", "stats", "addrs", "dht", "help", "quit"])
        {
            bool known = CommandParser.Parse("/" + name) is not ChatCommand.Invalid { Message: var message }
                         || !message.StartsWith("unknown command", StringComparison.Ordinal);
            Assert.True(known, $"/{name} is not parsed");
            Assert.Contains($"/{name}", help, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void AnyLine_ParsesWithoutThrowing_AndTextIsSaidTrimmed()
    {
        Gen.String[Gen.Char, 0, 300].Sample(line =>
        {
            ChatCommand command = CommandParser.Parse(line);
            string trimmed = line.Trim();
            if (trimmed.Length == 0)
                Assert.IsType<ChatCommand.Empty>(command);
            else if (!trimmed.StartsWith('/'))
                Assert.Equal(new ChatCommand.Say(trimmed), command);
        });
    }
}
