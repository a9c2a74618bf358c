using System.Diagnostics;
using System.Text.Json;

namespace Echo.SystemTests;

/// <summary>Nicks known on connect, between real `echo-chat --headless` processes on 127.0.0.1.</summary>
public sealed class NickEndToEndTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private static bool Is(JsonElement e, string type) => e.GetProperty("type").GetString() == type;

    private static string? Text(JsonElement e, string property) =>
        e.TryGetProperty(property, out JsonElement value) ? value.GetString() : null;

    private static bool IsPeer(JsonElement e, string peerId) => Is(e, "peer") && Text(e, "peerId") == peerId;

    private static string Tag(string peerId) => peerId[^8..];

    [Fact(Timeout = 120_000)]
    public async Task Msg_ByNick_RightAfterConnecting_Works_BothWays()
    {
        await using EchoChatProcess alice = await EchoChatProcess.StartAsync("alice", [], Ct);
        await using EchoChatProcess bob = await EchoChatProcess.StartAsync("bob", ["--connect", alice.Address], Ct);

        // Nobody has said anything: bob learns alice's nick from her profile, right after connecting.
        await bob.PeerEventAsync("connected", alice.PeerId, Ct);
        Stopwatch connected = Stopwatch.StartNew();
        await bob.NextAsync(e => IsPeer(e, alice.PeerId) && Text(e, "nick") == "alice", Wait, Ct);
        TimeSpan took = connected.Elapsed;
        await bob.SendLineAsync("/msg alice hello before anyone spoke");

        JsonElement dm = await alice.NextAsync(e => Is(e, "dm"), Wait, Ct);
        Assert.Equal(("hello before anyone spoke", bob.PeerId), (Text(dm, "text"), Text(dm, "from")));
        Assert.True(took < TimeSpan.FromSeconds(5), $"alice's nick known {took.TotalMilliseconds:0} ms after connecting");

        await alice.NextAsync(e => IsPeer(e, bob.PeerId) && Text(e, "nick") == "bob", Wait, Ct);
        await alice.SendLineAsync("/msg bob and back");
        Assert.Equal("and back", Text(await bob.NextAsync(e => Is(e, "dm"), Wait, Ct), "text"));

        // A nick change reaches the connected peer at once.
        await alice.SendLineAsync("/nick alicia");
        await bob.NextAsync(e => Is(e, "notice") && Text(e, "text") == "alice is now known as alicia", Wait, Ct);
        await bob.NextAsync(e => IsPeer(e, alice.PeerId) && Text(e, "nick") == "alicia", Wait, Ct);
    }

    [Fact(Timeout = 120_000)]
    public async Task AfterARestart_MsgByNick_WorksForAStoredConversation_WhileThePeerIsAway()
    {
        DirectoryInfo bobData = Directory.CreateTempSubdirectory("echo-nick-test-");
        try
        {
            string aliceId;
            await using (EchoChatProcess alice = await EchoChatProcess.StartAsync("alice", [], Ct))
            {
                aliceId = alice.PeerId;
                await using EchoChatProcess bob = await EchoChatProcess.StartAsync("bob", ["--connect", alice.Address], Ct, bobData.FullName);
                await alice.PeerEventAsync("connected", bob.PeerId, Ct);
                await alice.SendLineAsync($"/msg {bob.PeerId} remember me");
                await bob.NextAsync(e => Is(e, "dm") && Text(e, "text") == "remember me", Wait, Ct);
            }

            // alice is gone; bob starts again and still knows who alice is from the stored conversation.
            await using EchoChatProcess bobAgain = await EchoChatProcess.StartAsync("bob", [], Ct, bobData.FullName);
            await bobAgain.SendLineAsync("/msg alice for when you are back");
            JsonElement queued = await bobAgain.NextAsync(e => Is(e, "dm-sent") || Is(e, "error"), Wait, Ct);
            Assert.Equal(("dm-sent", aliceId), (Text(queued, "type"), Text(queued, "to")));
        }
        finally
        {
            bobData.Delete(recursive: true);
        }
    }

    [Fact(Timeout = 120_000)]
    public async Task AfterARestart_MsgByNick_WorksForAPeerThatOnlyAnnouncedItsNick_WhileItIsAway()
    {
        DirectoryInfo bobData = Directory.CreateTempSubdirectory("echo-nick-test-");
        try
        {
            string aliceId;
            await using (EchoChatProcess alice = await EchoChatProcess.StartAsync("alice", [], Ct))
            {
                aliceId = alice.PeerId;
                await using EchoChatProcess bob = await EchoChatProcess.StartAsync("bob", ["--connect", alice.Address], Ct, bobData.FullName);
                // alice never writes: bob knows her nick only from her profile.
                await bob.NextAsync(e => IsPeer(e, alice.PeerId) && Text(e, "nick") == "alice", Wait, Ct);
            }

            // alice is gone; bob starts again, lists her as away under her nick, and /msg alice queues for her.
            await using EchoChatProcess bobAgain = await EchoChatProcess.StartAsync("bob", [], Ct, bobData.FullName);
            await bobAgain.NextAsync(e => IsPeer(e, aliceId) && Text(e, "event") == "reconnecting" && Text(e, "nick") == "alice", Wait, Ct);
            await bobAgain.SendLineAsync("/msg alice for when you are back");
            JsonElement queued = await bobAgain.NextAsync(e => Is(e, "dm-sent") || Is(e, "error"), Wait, Ct);
            Assert.Equal(("dm-sent", aliceId), (Text(queued, "type"), Text(queued, "to")));
        }
        finally
        {
            bobData.Delete(recursive: true);
        }
    }

    [Fact(Timeout = 120_000)]
    public async Task TwoAlices_AreShownApart_MsgListsThem_AndNickAtTagPicksOne()
    {
        await using EchoChatProcess alice1 = await EchoChatProcess.StartAsync("alice", [], Ct);
        await using EchoChatProcess alice2 = await EchoChatProcess.StartAsync("alice", [], Ct);
        await using EchoChatProcess bob = await EchoChatProcess.StartAsync("bob", ["--connect", alice1.Address, "--connect", alice2.Address], Ct);
        Assert.NotEqual(alice1.PeerId, alice2.PeerId);

        // Both peer entries come to carry a tag (the end of the peer id), whatever order they announce in.
        HashSet<string> tagged = [];
        await bob.NextAsync(e =>
        {
            if (Is(e, "peer") && Text(e, "nick") == "alice" && Text(e, "tag") is { } tag && Text(e, "peerId") is { } id && tag == Tag(id))
                tagged.Add(id);
            return tagged.SetEquals([alice1.PeerId, alice2.PeerId]);
        }, Wait, Ct);

        await bob.SendLineAsync("/peers");
        string peers = Text(await bob.NextAsync(e => Is(e, "notice") && Text(e, "text")!.Contains("peer(s)"), Wait, Ct), "text")!;
        Assert.Contains($"alice@{Tag(alice1.PeerId)}", peers);
        Assert.Contains($"alice@{Tag(alice2.PeerId)}", peers);

        await bob.SendLineAsync("/msg alice which of you?");
        string list = Text(await bob.NextAsync(e => Is(e, "error"), Wait, Ct), "message")!;
        Assert.Contains("alice is the nick of 2 peers", list);
        Assert.Contains($"alice@{Tag(alice1.PeerId)}  {alice1.PeerId}", list);
        Assert.Contains($"alice@{Tag(alice2.PeerId)}  {alice2.PeerId}", list);

        await bob.SendLineAsync($"/msg alice@{Tag(alice2.PeerId)} for the second alice");
        await bob.SendLineAsync($"/msg alice@{Tag(alice1.PeerId)} for the first alice");
        Assert.Equal("for the second alice", Text(await alice2.NextAsync(e => Is(e, "dm"), Wait, Ct), "text"));
        Assert.Equal("for the first alice", Text(await alice1.NextAsync(e => Is(e, "dm"), Wait, Ct), "text"));

        // In a room, too, bob sees which alice spoke.
        await alice2.SendLineAsync("hello from the second alice");
        JsonElement message = await bob.MessageAsync("hello from the second alice", Ct);
        Assert.Equal(("alice", Tag(alice2.PeerId)), (Text(message, "nick"), Text(message, "tag")));
    }
}
