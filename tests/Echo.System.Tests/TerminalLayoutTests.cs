using System.Net;
using System.Net.Sockets;

namespace Echo.SystemTests;

/// <summary>The room list in a real terminal (tmux) keeps its order, /move included, and the current room across a restart.</summary>
public sealed class TerminalLayoutTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Task<TmuxSession> StartAsync(string home, string session) =>
        TmuxSession.StartAsync(session,
            $"XDG_DATA_HOME={home} NAME=alice exec dotnet {EchoChatProcess.ExecutablePath} --no-mdns --listen /ip4/127.0.0.1/tcp/{TmuxSession.FreePort()}");

    /// <summary>True when the room list (right panel) shows <paramref name="rooms"/> as rows 1, 2, 3… in this order.</summary>
    private static bool ListedInOrder(string screen, params string[] rooms)
    {
        string[] rows = screen.Split('\n');
        int last = -1;
        for (int i = 0; i < rooms.Length; i++)
        {
            // "1 #ops" for the current room, "1  ops" for the others
            int at = Array.FindIndex(rows, r => r.Contains($"│{i + 1} #{rooms[i]} ", StringComparison.Ordinal)
                                                || r.Contains($"│{i + 1}  {rooms[i]} ", StringComparison.Ordinal));
            if (at <= last)
                return false;
            last = at;
        }
        return true;
    }

    [Fact(Timeout = 120_000)]
    public async Task RoomOrder_WithMove_AndTheCurrentRoom_SurviveARestart()
    {
        TmuxSession.Require();
        string home = Directory.CreateTempSubdirectory("echo-tui-layout-").FullName;
        try
        {
            await using (TmuxSession first = await StartAsync(home, "layout1"))
            {
                await first.WaitForScreenAsync(s => s.Contains("/help lists the commands", StringComparison.Ordinal), TimeSpan.FromSeconds(30), Ct);
                await first.TypeLineAsync("/join ops");
                await first.TypeLineAsync("/join dev");
                await first.WaitForScreenAsync(s => ListedInOrder(s, "lobby", "ops", "dev"), TimeSpan.FromSeconds(10), Ct);
                await first.TypeLineAsync("/move dev 1");
                await first.WaitForScreenAsync(s => ListedInOrder(s, "dev", "lobby", "ops"), TimeSpan.FromSeconds(10), Ct);
                await first.TypeLineAsync("/join #ops");   // current: ops
                await first.WaitForScreenAsync(s => s.Contains("┤#ops├", StringComparison.Ordinal), TimeSpan.FromSeconds(10), Ct);
                await first.TypeLineAsync("/quit");
                await first.WaitForExitAsync(TimeSpan.FromSeconds(20), Ct);
            }

            await using TmuxSession again = await StartAsync(home, "layout2");
            string screen = await again.WaitForScreenAsync(s => ListedInOrder(s, "dev", "lobby", "ops"), TimeSpan.FromSeconds(30), Ct);
            await again.WaitForScreenAsync(s => s.Contains("┤#ops├", StringComparison.Ordinal), TimeSpan.FromSeconds(10), Ct);
            Assert.DoesNotContain("4 #", screen);
        }
        finally
        {
            Directory.Delete(home, recursive: true);
        }
    }
}
