using System.IO.Pipelines;
using System.Text.Json;
using Echo.Core;
using Echo.Core.Events;
using Echo.Core.Peers;
using Echo.Core.Ports;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Headless.Tests;

/// <summary>The DHT's numbers and peers found through it, in headless output.</summary>
public sealed class DhtEventTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly DateTimeOffset At = DateTimeOffset.Parse("2026-12-06T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture);

    private static readonly DhtStatus Status = new("client", 23, 2, ["natroom"],
        [new DhtLookup("providers", At, TimeSpan.FromMilliseconds(812.34), 31, 17, 2)]);

    /// <summary>A chat network that runs a DHT with fixed numbers.</summary>
    private sealed class DhtNetwork : IChatNetwork, IDhtStatusSource
    {
        private readonly FakeChatNetwork _inner = new();

        public string LocalPeerId => _inner.LocalPeerId;

        public IReadOnlyList<string> ListenAddresses => _inner.ListenAddresses;

        public System.Threading.Channels.ChannelReader<NetworkEvent> Events => _inner.Events;

        public Task StartAsync(CancellationToken cancellationToken) => _inner.StartAsync(cancellationToken);

        public Task<string> ConnectAsync(string address, CancellationToken cancellationToken) => _inner.ConnectAsync(address, cancellationToken);

        public Task JoinRoomAsync(string room, CancellationToken cancellationToken) => _inner.JoinRoomAsync(room, cancellationToken);

        public Task LeaveRoomAsync(string room, CancellationToken cancellationToken) => _inner.LeaveRoomAsync(room, cancellationToken);

        public Task<Echo.Core.Chat.ChatMessage> PublishAsync(string room, string nick, string text, CancellationToken cancellationToken) =>
            _inner.PublishAsync(room, nick, text, cancellationToken);

        public DhtStatus? GetDhtStatus() => Status;

        public ValueTask DisposeAsync() => _inner.DisposeAsync();
    }

    [Fact]
    public void Format_AStatusChange_HasTheNumbersWithoutLookups() =>
        Assert.Equal("""{"type":"dht","mode":"client","routingTable":23,"peersFound":2,"roomsFound":["natroom"]}""",
            HeadlessEventWriter.Format(new DhtEvent(Status, Requested: false)));

    [Fact]
    public void Format_TheAnswerToDht_ListsTheLookups() =>
        Assert.Equal(
            """{"type":"dht","mode":"client","routingTable":23,"peersFound":2,"roomsFound":["natroom"],"requested":true,"lookups":""" +
            """[{"kind":"providers","started":"2026-12-06T12:00:00.000Z","ms":812.3,"messages":31,"peersQueried":17,"found":2}]}""",
            HeadlessEventWriter.Format(new DhtEvent(Status, Requested: true)));

    [Fact]
    public void Format_APeerFoundThroughTheDht_HasSourceDht()
    {
        PeerInfo peer = new("12D3KooWAlice0000abcdefgh", "/ip4/127.0.0.1/tcp/1", PeerSource.Dht, At);

        Assert.Equal("""{"type":"peer","event":"connected","peerId":"12D3KooWAlice0000abcdefgh","address":"/ip4/127.0.0.1/tcp/1","source":"dht","via":"direct"}""",
            HeadlessEventWriter.Format(new PeerConnectedEvent(peer)));
    }

    [Fact(Timeout = 10_000)]
    public async Task SlashDht_WritesANoticeThenTheDhtLine()
    {
        await using ChatManager manager = new(new DhtNetwork(), new ChatOptions { Nick = "bot" }, NullLogger<ChatManager>.Instance);
        using ChatSubscription subscription = manager.Subscribe();
        Pipe stdin = new();
        Pipe stdout = new();
        await manager.StartAsync(Ct);
        StreamWriter output = new(stdout.Writer.AsStream()) { AutoFlush = true };
        Task run = HeadlessChat.RunAsync(manager, subscription, new StreamReader(stdin.Reader.AsStream()), output, Ct);
        using StreamReader lines = new(stdout.Reader.AsStream());
        StreamWriter input = new(stdin.Writer.AsStream()) { AutoFlush = true };

        await input.WriteLineAsync("/dht");

        JsonElement notice = await NextAsync(lines, "notice");
        string text = notice.GetProperty("text").GetString()!;
        Assert.Contains("dht mode: client", text, StringComparison.Ordinal);
        Assert.Contains("routing table: 23 peer(s)", text, StringComparison.Ordinal);
        Assert.Contains("rooms found through it: #natroom", text, StringComparison.Ordinal);
        Assert.Contains("providers", text, StringComparison.Ordinal);
        Assert.Contains("812 ms", text, StringComparison.Ordinal);
        JsonElement dht = await NextAsync(lines, "dht");
        Assert.True(dht.GetProperty("requested").GetBoolean());
        Assert.Equal(17, dht.GetProperty("lookups")[0].GetProperty("peersQueried").GetInt32());
        Assert.Equal(23, manager.Dht!.RoutingTableSize);

        await stdin.Writer.CompleteAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(5), Ct);
    }

    [Fact(Timeout = 10_000)]
    public async Task SlashDht_WithoutADht_SaysItIsOff()
    {
        FakeChatNetwork network = new();
        await using ChatManager manager = new(network, new ChatOptions { Nick = "bot" }, NullLogger<ChatManager>.Instance);
        using ChatSubscription subscription = manager.Subscribe();
        await manager.StartAsync(Ct);

        await manager.SubmitAsync("/dht", Ct);

        using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        while (await subscription.Events.ReadAsync(timeout.Token) is not NoticeEvent { Text: var text } || !text.Contains("DHT", StringComparison.Ordinal))
        {
        }
        Assert.Null(manager.Dht);
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
