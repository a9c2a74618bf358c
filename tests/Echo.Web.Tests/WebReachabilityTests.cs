using System.Text.Json;
using Echo.Core;
using Echo.Core.Events;
using Echo.Core.Ports;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Web.Tests;

/// <summary>The node's reachability reaches the page as an event and in the snapshot.</summary>
public sealed class WebReachabilityTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void TheEvent_HasTheHeadlessShape()
    {
        JsonElement json = JsonDocument.Parse(WebJson.Event(new ReachabilityEvent(NodeReachability.Private, ["/ip4/1.2.3.4/tcp/1"]))!).RootElement;
        Assert.Equal("reachability", json.GetProperty("type").GetString());
        Assert.Equal("private", json.GetProperty("status").GetString());
        Assert.Equal("/ip4/1.2.3.4/tcp/1", json.GetProperty("addrs")[0].GetString());
    }

    [Fact(Timeout = 10_000)]
    public async Task TheSnapshot_CarriesTheLastReachability_OnlyOnceReported()
    {
        FakeChatNetwork network = new();
        await using ChatManager manager = new(network, new ChatOptions { Nick = "web" }, NullLogger<ChatManager>.Instance);
        using ChatSubscription events = manager.Subscribe();
        await manager.StartAsync(Ct);
        JsonElement before = JsonDocument.Parse(await WebJson.SnapshotAsync(manager, Ct)).RootElement;
        Assert.False(before.TryGetProperty("reachability", out _));

        network.Inject(new ReachabilityChanged(NodeReachability.Public, ["/ip4/1.2.3.4/tcp/1"]));
        while (await events.Events.ReadAsync(Ct) is not ReachabilityEvent)
        {
        }

        JsonElement after = JsonDocument.Parse(await WebJson.SnapshotAsync(manager, Ct)).RootElement;
        Assert.Equal("public", after.GetProperty("reachability").GetProperty("status").GetString());
    }
}
