using System.IO.Pipelines;
using System.Text.Json;
using Echo.Core;
using Echo.Core.Events;
using Echo.Core.Ports;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Headless.Tests;

/// <summary>The network's reachability verdicts reach headless output, one line per change.</summary>
public sealed class ReachabilityEventTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(NodeReachability.Public, """{"type":"reachability","status":"public","addrs":["/ip4/1.2.3.4/tcp/4001"]}""")]
    [InlineData(NodeReachability.Private, """{"type":"reachability","status":"private","addrs":["/ip4/1.2.3.4/tcp/4001"]}""")]
    public void Format_ReachabilityLine(NodeReachability status, string expected) =>
        Assert.Equal(expected, HeadlessEventWriter.Format(new ReachabilityEvent(status, ["/ip4/1.2.3.4/tcp/4001"])));

    [Fact]
    public void Format_UnknownHasAnEmptyAddressList() =>
        Assert.Equal("""{"type":"reachability","status":"unknown","addrs":[]}""",
            HeadlessEventWriter.Format(new ReachabilityEvent(NodeReachability.Unknown, [])));

    [Fact(Timeout = 10_000)]
    public async Task EveryChange_IsWritten_AndTheManagerKeepsTheLast()
    {
        FakeChatNetwork network = new();
        await using ChatManager manager = new(network, new ChatOptions { Nick = "bot" }, NullLogger<ChatManager>.Instance);
        using ChatSubscription subscription = manager.Subscribe();
        Pipe stdin = new();
        Pipe stdout = new();
        await manager.StartAsync(Ct);
        Assert.Null(manager.Reachability);
        StreamWriter output = new(stdout.Writer.AsStream()) { AutoFlush = true };
        Task run = HeadlessChat.RunAsync(manager, subscription, new StreamReader(stdin.Reader.AsStream()), output, Ct);
        using StreamReader lines = new(stdout.Reader.AsStream());

        network.Inject(new ReachabilityChanged(NodeReachability.Unknown, []));
        network.Inject(new ReachabilityChanged(NodeReachability.Public, ["/ip4/1.2.3.4/tcp/4001"]));

        JsonElement first = await NextReachabilityAsync(lines);
        Assert.Equal("unknown", first.GetProperty("status").GetString());
        JsonElement second = await NextReachabilityAsync(lines);
        Assert.Equal("public", second.GetProperty("status").GetString());
        Assert.Equal("/ip4/1.2.3.4/tcp/4001", second.GetProperty("addrs")[0].GetString());
        Assert.Equal(NodeReachability.Public, manager.Reachability!.Status);

        await stdin.Writer.CompleteAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(5), Ct);
    }

    private static async Task<JsonElement> NextReachabilityAsync(StreamReader lines)
    {
        using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        while (true)
        {
            string line = await lines.ReadLineAsync(timeout.Token) ?? throw new EndOfStreamException("output ended");
            JsonElement json = JsonDocument.Parse(line).RootElement;
            if (json.GetProperty("type").GetString() == "reachability")
                return json;
        }
    }
}
