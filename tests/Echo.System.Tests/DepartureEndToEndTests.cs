namespace Echo.SystemTests;

/// <summary>
/// Peers leaving is ordinary: a node whose peers quit, or are killed in the middle of talking to it,
/// says nothing on stderr (where headless mode writes warnings and worse).
/// </summary>
public sealed class DepartureEndToEndTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 120_000)]
    public async Task PeersQuittingOrKilled_LeaveNoWarningOnStderr()
    {
        await using EchoChatProcess alice = await EchoChatProcess.StartAsync("alice", [], Ct);
        for (int round = 0; round < 3; round++)
        {
            foreach (bool kill in (bool[])[false, true])
            {
                string name = kill ? $"killed{round}" : $"quitter{round}";
                await using EchoChatProcess bob = await EchoChatProcess.StartAsync(name, ["--connect", alice.Address], Ct);
                await alice.PeerEventAsync("connected", bob.PeerId, Ct);
                // Streams of every kind open when it goes: room, direct message, history sync.
                await bob.SendLineAsync("hello from " + name);
                await alice.MessageAsync("hello from " + name, Ct);
                await bob.SendLineAsync($"/msg {alice.PeerId} dm from {name}");
                await alice.NextAsync(e => e.GetProperty("type").GetString() == "dm", TimeSpan.FromSeconds(20), Ct);
                if (kill)
                    bob.Kill();
                else
                    await bob.SendLineAsync("/quit");
                await alice.PeerEventAsync("disconnected", bob.PeerId, Ct);
            }
        }
        await alice.SendLineAsync("/quit");
        Assert.Equal(0, await alice.WaitForExitAsync(TimeSpan.FromSeconds(20), Ct));
        Assert.True(alice.StandardError.Length == 0, "stderr:\n" + alice.StandardError);
    }
}
