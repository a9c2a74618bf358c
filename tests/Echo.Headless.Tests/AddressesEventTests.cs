using System.IO.Pipelines;
using System.Text.Json;
using Echo.Core;
using Echo.Core.Events;
using Echo.Core.Ports;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Headless.Tests;

/// <summary>The node's addresses reach headless output: the <c>addrs</c> line, on every change the network reports.</summary>
public sealed class AddressesEventTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly NodeAddresses Sample = new(
        ["/ip4/10.201.1.2/tcp/4001"],
        [new ObservedNodeAddress("/ip4/10.200.0.11/tcp/4001", 4, true), new ObservedNodeAddress("/ip4/10.200.0.11/tcp/5555", 1, false)],
        ["/ip4/10.201.1.2/tcp/4001/p2p/12D3KooWA", "/ip4/10.200.0.11/tcp/4001/p2p/12D3KooWA"]);

    [Fact]
    public void Format_AddrsLine() =>
        Assert.Equal("""{"type":"addrs","listen":["/ip4/10.201.1.2/tcp/4001"],"observed":[""" +
                     """{"addr":"/ip4/10.200.0.11/tcp/4001","observers":4,"trusted":true},""" +
                     """{"addr":"/ip4/10.200.0.11/tcp/5555","observers":1,"trusted":false}""" +
                     """],"advertised":["/ip4/10.201.1.2/tcp/4001/p2p/12D3KooWA","/ip4/10.200.0.11/tcp/4001/p2p/12D3KooWA"]}""",
            HeadlessEventWriter.Format(new AddressesEvent(Sample)));

    [Fact(Timeout = 10_000)]
    public async Task A_change_is_written_and_addrs_on_a_network_without_addresses_says_so()
    {
        FakeChatNetwork network = new();
        await using ChatManager manager = new(network, new ChatOptions { Nick = "bot" }, NullLogger<ChatManager>.Instance);
        using ChatSubscription subscription = manager.Subscribe();
        Pipe stdin = new();
        Pipe stdout = new();
        await manager.StartAsync(Ct);
        StreamWriter output = new(stdout.Writer.AsStream()) { AutoFlush = true };
        Task run = HeadlessChat.RunAsync(manager, subscription, new StreamReader(stdin.Reader.AsStream()), output, Ct);
        using StreamReader lines = new(stdout.Reader.AsStream());

        network.Inject(new AddressesChanged(Sample));
        JsonElement changed = await NextAsync(lines, "addrs");
        Assert.True(changed.GetProperty("observed")[0].GetProperty("trusted").GetBoolean());

        await stdin.Writer.WriteAsync("/addrs\n"u8.ToArray(), Ct);
        JsonElement notice = await NextAsync(lines, "notice");
        Assert.Equal("this network does not report its addresses", notice.GetProperty("text").GetString());

        await stdin.Writer.CompleteAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(5), Ct);
    }

    private static async Task<JsonElement> NextAsync(StreamReader lines, string type)
    {
        using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        while (true)
        {
            string line = await lines.ReadLineAsync(timeout.Token) ?? throw new EndOfStreamException("output ended");
            JsonElement json = JsonDocument.Parse(line).RootElement;
            if (json.GetProperty("type").GetString() == type)
                return json;
        }
    }
}
