using System.Net;
using System.Net.Sockets;

namespace Echo.SystemTests;

/// <summary>
/// The README's two-terminal scenario in real terminals (tmux): alice and bob started with only
/// their port and name differing, bob types /connect, and what each types shows on the other's screen.
/// </summary>
public sealed class TerminalTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 120_000)]
    public async Task TwoTuis_ConnectAndChat_TextAppearsOnTheOtherScreen()
    {
        TmuxSession.Require();

        // One user, one machine: both share XDG_DATA_HOME; only NAME and the port differ.
        string home = Directory.CreateTempSubdirectory("echo-tui-test-").FullName;
        try
        {
            int alicePort = TmuxSession.FreePort(), bobPort = TmuxSession.FreePort();
            string Command(string name, int port) =>
                $"XDG_DATA_HOME={home} NAME={name} exec dotnet {EchoChatProcess.ExecutablePath} --no-mdns --listen /ip4/127.0.0.1/tcp/{port}";
            await using TmuxSession alice = await TmuxSession.StartAsync("alice", Command("alice", alicePort));
            await using TmuxSession bob = await TmuxSession.StartAsync("bob", Command("bob", bobPort));
            await alice.WaitForScreenAsync(s => s.Contains($"/tcp/{alicePort}"), TimeSpan.FromSeconds(30), Ct);
            await bob.WaitForScreenAsync(s => s.Contains($"/tcp/{bobPort}"), TimeSpan.FromSeconds(30), Ct);

            await bob.TypeLineAsync($"/connect /ip4/127.0.0.1/tcp/{alicePort}");
            await bob.WaitForScreenAsync(s => s.Contains("connected to", StringComparison.OrdinalIgnoreCase), TimeSpan.FromSeconds(30), Ct);

            // Until the two have exchanged room subscriptions a message is not heard; a user would
            // say it again, so does this test (bounded).
            await SayUntilSeenAsync(alice, bob, "hello bob, this is alice");
            await SayUntilSeenAsync(bob, alice, "hi alice, bob here");
            string aliceScreen = await alice.CaptureAsync();
            Assert.Contains("bob", aliceScreen);
            Assert.True(Directory.Exists(Path.Combine(home, "echo", "alice")) && Directory.Exists(Path.Combine(home, "echo", "bob")),
                "each name keeps its own data directory");

            await alice.TypeLineAsync("/quit");
            await bob.TypeLineAsync("/quit");
        }
        finally
        {
            Directory.Delete(home, recursive: true);
        }
    }

    private static async Task SayUntilSeenAsync(TmuxSession from, TmuxSession to, string text)
    {
        for (int attempt = 1; ; attempt++)
        {
            string line = $"{text} #{attempt}";
            await from.TypeLineAsync(line);
            try
            {
                await to.WaitForScreenAsync(s => s.Contains(text), TimeSpan.FromSeconds(3), Ct);
                return;
            }
            catch (TimeoutException) when (attempt < 5)
            {
            }
        }
    }
}
