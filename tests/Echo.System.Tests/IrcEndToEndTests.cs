using System.Text.Json;

namespace Echo.SystemTests;

/// <summary>/me, /away and /whois between real `echo-chat --headless` processes on 127.0.0.1.</summary>
public sealed class IrcEndToEndTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private static bool Is(JsonElement e, string type) => e.GetProperty("type").GetString() == type;

    private static string? Text(JsonElement e, string property) =>
        e.TryGetProperty(property, out JsonElement value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static bool Flag(JsonElement e, string property) =>
        e.TryGetProperty(property, out JsonElement value) && value.ValueKind == JsonValueKind.True;

    [Fact(Timeout = 180_000)]
    public async Task AnAction_AnAwayMessage_AndWhois_ReachTheOtherProcess()
    {
        await using EchoChatProcess alice = await EchoChatProcess.StartAsync("alice", [], Ct);
        await using EchoChatProcess bob = await EchoChatProcess.StartAsync("bob", ["--connect", alice.Address], Ct);
        await bob.NextAsync(e => Is(e, "peer") && Text(e, "peerId") == alice.PeerId && Text(e, "nick") == "alice", Wait, Ct);

        await alice.SendLineAsync("/away at lunch");
        JsonElement away = await bob.NextAsync(e => Is(e, "peer") && Text(e, "peerId") == alice.PeerId && Text(e, "awayMessage") is not null, Wait, Ct);
        Assert.Equal("at lunch", Text(away, "awayMessage"));

        await bob.SendLineAsync("/whois alice");
        JsonElement whois = await bob.NextAsync(e => Is(e, "whois"), Wait, Ct);
        Assert.Equal((alice.PeerId, "alice", "at lunch"), (Text(whois, "peerId"), Text(whois, "nick"), Text(whois, "awayMessage")));
        JsonElement connection = Assert.Single(whois.GetProperty("connections").EnumerateArray().ToList());
        Assert.Equal("outbound", Text(connection, "direction"));
        Assert.NotNull(Text(whois, "firstSeen"));

        // Once the lobby has formed, the action travels through gossipsub with its flag.
        await HeadlessEndToEndTests.WaitUntilRoomFormedAsync(alice, [bob], "lobby");
        await alice.SendLineAsync("/me waves");
        Assert.True(Flag(await alice.MessageAsync("waves", Ct), "action"));
        JsonElement heard = await bob.MessageAsync("waves", Ct);
        Assert.True(Flag(heard, "action"));
        Assert.Equal(("alice", alice.PeerId), (Text(heard, "nick"), Text(heard, "from")));

        await alice.SendLineAsync("/back");
        await bob.NextAsync(e => Is(e, "notice") && Text(e, "text") == "alice is back", Wait, Ct);
    }
}
