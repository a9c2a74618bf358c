using System.Text.Json;

namespace Echo.SystemTests;

/// <summary>Several real `echo-chat --headless` processes on 127.0.0.1, driven through stdin and stdout.</summary>
public sealed class HeadlessEndToEndTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>
    /// Right after a connection, gossipsub peers still exchange subscriptions; a message published
    /// before that is not heard. Send numbered probes until every listener heard one, so the tests
    /// below start from a formed room.
    /// </summary>
    internal static async Task WaitUntilRoomFormedAsync(EchoChatProcess sender, IReadOnlyList<EchoChatProcess> listeners, string room)
    {
        using CancellationTokenSource limit = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        limit.CancelAfter(TimeSpan.FromSeconds(30));
        foreach (EchoChatProcess listener in listeners)
        {
            for (int probe = 0; ; probe++)
            {
                string text = $"probe {room} {listener.PeerId[^6..]} {probe}";
                await sender.SendLineAsync(text);
                try
                {
                    // Through gossipsub: a probe heard as an echo-go line (sent before the subscriptions
                    // were exchanged) does not show that the room has formed.
                    await listener.NextAsync(e => e.GetProperty("type").GetString() == "message"
                                                  && e.GetProperty("origin").GetString() == "room"
                                                  && e.GetProperty("text").GetString()!.StartsWith($"probe {room} {listener.PeerId[^6..]}", StringComparison.Ordinal),
                        TimeSpan.FromMilliseconds(500), limit.Token);
                    break;
                }
                catch (TimeoutException) when (!limit.IsCancellationRequested)
                {
                }
            }
        }
    }

    [Fact(Timeout = 120_000)]
    public async Task ThreeNodes_MessagesAllWays_RoomsApart_KilledPeerDisconnects()
    {
        await using EchoChatProcess alice = await EchoChatProcess.StartAsync("alice", [], Ct);
        await using EchoChatProcess bob = await EchoChatProcess.StartAsync("bob", ["--connect", alice.Address], Ct);
        await using EchoChatProcess carol = await EchoChatProcess.StartAsync("carol", ["--connect", bob.Address], Ct);
        Assert.Equal(3, new[] { alice.PeerId, bob.PeerId, carol.PeerId }.Distinct().Count());
        await alice.PeerEventAsync("connected", bob.PeerId, Ct);
        await carol.PeerEventAsync("connected", bob.PeerId, Ct);

        // alice and carol are not connected: bob's node forwards between them.
        await WaitUntilRoomFormedAsync(alice, [bob, carol], "lobby");
        await WaitUntilRoomFormedAsync(carol, [alice], "lobby");
        foreach ((EchoChatProcess from, string nick) in new[] { (alice, "alice"), (bob, "bob"), (carol, "carol") })
        {
            string text = $"hello from {nick}";
            await from.SendLineAsync(text);
            foreach (EchoChatProcess to in new[] { alice, bob, carol }.Where(p => p != from))
            {
                JsonElement message = await to.MessageAsync(text, Ct, "lobby");
                Assert.Equal(from.PeerId, message.GetProperty("from").GetString());
                Assert.Equal(nick, message.GetProperty("nick").GetString());
                Assert.Equal("room", message.GetProperty("origin").GetString());
            }
        }

        // A second room that only alice and carol join: bob does not relay a room he is not in, so
        // carol connects to alice directly.
        await carol.SendLineAsync("/connect " + alice.Address);
        await carol.PeerEventAsync("connected", alice.PeerId, Ct);
        await alice.SendLineAsync("/join dev");
        await carol.SendLineAsync("/join dev");
        await alice.NextAsync(e => e.GetProperty("type").GetString() == "joined" && e.GetProperty("room").GetString() == "dev",
            TimeSpan.FromSeconds(10), Ct);
        await carol.NextAsync(e => e.GetProperty("type").GetString() == "joined" && e.GetProperty("room").GetString() == "dev",
            TimeSpan.FromSeconds(10), Ct);
        await WaitUntilRoomFormedAsync(alice, [carol], "dev");
        await alice.SendLineAsync("only for dev");
        await alice.SendLineAsync("/join lobby");
        await alice.SendLineAsync("back in lobby");
        Dictionary<string, JsonElement> atCarol = await carol.MessagesAsync(["only for dev", "back in lobby"], Ct);
        Assert.Equal("dev", atCarol["only for dev"].GetProperty("room").GetString());
        Assert.Equal("lobby", atCarol["back in lobby"].GetProperty("room").GetString());
        await bob.MessageAsync("back in lobby", Ct);
        Assert.DoesNotContain(bob.Drain(), e => e.GetProperty("type").GetString() == "message" && e.GetProperty("room").GetString() == "dev"
                                                  && e.GetProperty("text").GetString() == "only for dev");

        // carol dies without a goodbye: bob sees her go, alice and bob go on chatting.
        carol.Kill();
        await bob.PeerEventAsync("disconnected", carol.PeerId, Ct);
        await bob.SendLineAsync("still here");
        await alice.MessageAsync("still here", Ct);
        await alice.SendLineAsync("me too");
        await bob.MessageAsync("me too", Ct);
    }

    [Fact(Timeout = 60_000)]
    public async Task Quit_ExitsCleanlyWithCodeZero()
    {
        await using EchoChatProcess alice = await EchoChatProcess.StartAsync("alice", [], Ct);
        await alice.SendLineAsync("/quit");
        Assert.Equal(0, await alice.WaitForExitAsync(TimeSpan.FromSeconds(15), Ct));
    }

    /// <summary>
    /// SIGTERM, as from kill, systemd or docker stop. (Ctrl+C's SIGINT takes the same path, but a
    /// test cannot rely on it: a process started from a background job inherits SIGINT ignored.)
    /// </summary>
    [Fact(Timeout = 60_000)]
    public async Task SigtermWhileNothingIsTyped_ShutsDownCleanly_AndKeepsWhatWasSaid()
    {
        const int sigterm = 15;
        string dir = Directory.CreateTempSubdirectory("echo-signal-test-").FullName;
        try
        {
            await using (EchoChatProcess alice = await EchoChatProcess.StartAsync("alice", [], Ct, dir))
            {
                await alice.SendLineAsync("said before the signal");
                await alice.MessageAsync("said before the signal", Ct);
                Assert.Equal(0, Signals.Send(alice.ProcessId, sigterm));
                // stdin stays open: the signal alone must end it, before the 10 s that disposing would wait.
                Assert.Equal(0, await alice.WaitForExitAsync(TimeSpan.FromSeconds(8), Ct));
            }
            await using EchoChatProcess again = await EchoChatProcess.StartAsync("alice", [], Ct, dir);
            Assert.True((await again.MessageAsync("said before the signal", Ct)).GetProperty("history").GetBoolean());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task Restart_KeepsPeerId()
    {
        string dataDirectory = Directory.CreateTempSubdirectory("echo-cli-test-").FullName;
        try
        {
            string first;
            await using (EchoChatProcess alice = await EchoChatProcess.StartAsync("alice", [], Ct, dataDirectory))
                first = alice.PeerId;
            await using EchoChatProcess again = await EchoChatProcess.StartAsync("alice", [], Ct, dataDirectory);
            Assert.Equal(first, again.PeerId);
        }
        finally
        {
            Directory.Delete(dataDirectory, recursive: true);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task Connect_BadMultiaddr_ErrorNamesThePartAndChatGoesOn()
    {
        await using EchoChatProcess alice = await EchoChatProcess.StartAsync("alice", [], Ct);
        await alice.SendLineAsync("/connect /ip4/127.0.0.1/tcp/notaport");
        JsonElement error = await alice.NextAsync(e => e.GetProperty("type").GetString() == "error", TimeSpan.FromSeconds(10), Ct);
        Assert.Contains("notaport", error.GetProperty("message").GetString());
        await alice.SendLineAsync("still alive");
        await alice.MessageAsync("still alive", Ct);
    }

    [Fact(Timeout = 60_000)]
    public async Task Connect_WrongPeerId_ErrorSaysWhichIdAnswered()
    {
        await using EchoChatProcess alice = await EchoChatProcess.StartAsync("alice", [], Ct);
        await using EchoChatProcess bob = await EchoChatProcess.StartAsync("bob", [], Ct);
        await using EchoChatProcess carol = await EchoChatProcess.StartAsync("carol", [], Ct);
        string wrong = alice.Address[..alice.Address.IndexOf("/p2p/", StringComparison.Ordinal)] + "/p2p/" + carol.PeerId;
        await bob.SendLineAsync("/connect " + wrong);
        JsonElement error = await bob.NextAsync(e => e.GetProperty("type").GetString() == "error", TimeSpan.FromSeconds(15), Ct);
        string message = error.GetProperty("message").GetString()!;
        Assert.True(message.Contains($"expected {carol.PeerId}") && message.Contains($"got {alice.PeerId}"), message);
    }

    [Fact(Timeout = 60_000)]
    public async Task SameDataDirectoryTwice_SecondRefusesWithReason()
    {
        await using EchoChatProcess alice = await EchoChatProcess.StartAsync("alice", [], Ct);
        (int code, string stderr) = await EchoChatProcess.RunToExitAsync(
            ["--headless", "--no-mdns", "--name", "alice", "--data-dir", alice.DataDirectory], Ct);
        Assert.Equal(1, code);
        Assert.Contains("in use by another echo-chat", stderr);
    }

    [Fact(Timeout = 60_000)]
    public async Task PortInUse_RefusesWithReason()
    {
        await using EchoChatProcess alice = await EchoChatProcess.StartAsync("alice", [], Ct);
        string listen = alice.Address[..alice.Address.IndexOf("/p2p/", StringComparison.Ordinal)];
        string dataDirectory = Directory.CreateTempSubdirectory("echo-cli-test-").FullName;
        try
        {
            (int code, string stderr) = await EchoChatProcess.RunToExitAsync(
                ["--headless", "--no-mdns", "--name", "bob", "--listen", listen, "--data-dir", dataDirectory], Ct);
            Assert.Equal(1, code);
            Assert.Contains("in use", stderr);
            Assert.Contains(listen.Split('/')[^1], stderr);
        }
        finally
        {
            Directory.Delete(dataDirectory, recursive: true);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task BadOption_ExitsWithUsageErrorNamingIt()
    {
        (int code, string stderr) = await EchoChatProcess.RunToExitAsync(["--headless", "--listen", "/ip4/999.0.0.1/tcp/1"], Ct);
        Assert.Equal(2, code);
        Assert.Contains("--listen", stderr);
        Assert.Contains("999.0.0.1", stderr);
    }
}
