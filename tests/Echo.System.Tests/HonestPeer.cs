using System.Diagnostics;

namespace Echo.SystemTests;

/// <summary>What the attack tests ask of an honest peer: connected, and a room message heard each way, in time.</summary>
internal static class HonestPeer
{
    /// <summary>
    /// <paramref name="dialer"/> connects to <paramref name="listener"/> (/connect), then a room
    /// message is heard each way (probes until one is heard, as the room forms right after
    /// connecting), all within <paramref name="within"/>; returns how long it took.
    /// </summary>
    public static async Task<TimeSpan> ConnectAndChatAsync(EchoChatProcess dialer, EchoChatProcess listener, TimeSpan within,
        CancellationToken cancellationToken)
    {
        Stopwatch clock = Stopwatch.StartNew();
        await dialer.SendLineAsync("/connect " + listener.Address);
        await dialer.NextAsync(e => e.GetProperty("type").GetString() is "peer" && e.GetProperty("event").GetString() == "connected"
                                    && e.GetProperty("peerId").GetString() == listener.PeerId, within, cancellationToken);
        await ProbeAsync(dialer, listener, clock, within, cancellationToken);
        await ProbeAsync(listener, dialer, clock, within, cancellationToken);
        Assert.True(clock.Elapsed < within, $"the honest peer took {clock.Elapsed.TotalSeconds:0.0} s");
        return clock.Elapsed;
    }

    private static async Task ProbeAsync(EchoChatProcess from, EchoChatProcess to, Stopwatch clock, TimeSpan within,
        CancellationToken cancellationToken)
    {
        string tag = $"probe {from.PeerId[^6..]} to {to.PeerId[^6..]}";
        for (int probe = 0; ; probe++)
        {
            await from.SendLineAsync($"{tag} {probe}");
            try
            {
                await to.NextAsync(e => e.GetProperty("type").GetString() == "message" && e.GetProperty("origin").GetString() == "room"
                                        && e.GetProperty("text").GetString()!.StartsWith(tag, StringComparison.Ordinal),
                    TimeSpan.FromMilliseconds(300), cancellationToken);
                return;
            }
            catch (TimeoutException) when (clock.Elapsed < within)
            {
            }
        }
    }
}
