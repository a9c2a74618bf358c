using System.IO.Pipelines;
using System.Text.Json;
using Echo.Core;
using Echo.Core.Chat;
using Echo.Core.Peers;
using Echo.Core.Ports;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Headless.Tests;

public sealed class HeadlessChatTests : IAsyncLifetime
{
    private const string Bob = "12D3KooWBob000000000000000000000000000000000000000";

    private readonly FakeChatNetwork _network = new();
    private readonly ChatManager _manager;
    private readonly ChatSubscription _subscription;
    private readonly Pipe _stdin = new();
    private readonly Pipe _stdout = new();
    private readonly StreamWriter _stdinWriter;
    private readonly StreamReader _stdoutReader;
    private Task _run = Task.CompletedTask;

    public HeadlessChatTests()
    {
        _manager = new ChatManager(_network, new ChatOptions { Nick = "bot" }, NullLogger<ChatManager>.Instance);
        _subscription = _manager.Subscribe();
        _stdinWriter = new StreamWriter(_stdin.Writer.AsStream()) { AutoFlush = true };
        _stdoutReader = new StreamReader(_stdout.Reader.AsStream());
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        await _manager.StartAsync(Ct);
        StreamWriter output = new(_stdout.Writer.AsStream()) { AutoFlush = true };
        _run = HeadlessChat.RunAsync(_manager, _subscription, new StreamReader(_stdin.Reader.AsStream()), output, Ct);
    }

    public async ValueTask DisposeAsync()
    {
        await _stdin.Writer.CompleteAsync();
        await _run.WaitAsync(TimeSpan.FromSeconds(5), Ct);
        await _manager.DisposeAsync();
    }

    private async Task<JsonElement> NextAsync(string type, Func<JsonElement, bool>? where = null)
    {
        using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        while (true)
        {
            string line = await _stdoutReader.ReadLineAsync(timeout.Token) ?? throw new EndOfStreamException("output ended");
            JsonElement json = JsonDocument.Parse(line).RootElement;
            if (json.GetProperty("type").GetString() == type && (where is null || where(json)))
                return json;
        }
    }

    [Fact(Timeout = 10_000)]
    public async Task Output_StartsWithReadyThenJoined()
    {
        string first = (await _stdoutReader.ReadLineAsync(Ct))!;
        JsonElement ready = JsonDocument.Parse(first).RootElement;
        Assert.Equal("ready", ready.GetProperty("type").GetString());
        Assert.Equal(_network.LocalPeerId, ready.GetProperty("peerId").GetString());
        Assert.EndsWith("/p2p/" + _network.LocalPeerId, ready.GetProperty("addrs")[0].GetString());
        Assert.Equal("lobby", (await NextAsync("joined")).GetProperty("room").GetString());
    }

    [Fact(Timeout = 10_000)]
    public async Task InputLine_IsSentAndReportedAsOwnMessage()
    {
        await _stdinWriter.WriteLineAsync("hello from a script");
        JsonElement message = await NextAsync("message");
        Assert.Equal("hello from a script", message.GetProperty("text").GetString());
        Assert.Equal("bot", message.GetProperty("nick").GetString());
        Assert.Equal("self", message.GetProperty("origin").GetString());
        Assert.Equal("lobby", Assert.Single(_network.Published).Room);
    }

    [Fact(Timeout = 10_000)]
    public async Task NetworkMessage_ReportedWithRoomSenderNickAndTime()
    {
        DateTimeOffset ts = new(2026, 11, 26, 1, 2, 3, 456, TimeSpan.Zero);
        _network.Inject(new MessageArrived(new ChatMessage("b:1", "lobby", Bob, "bob", "hi \u001b[31mred", ts, MessageOrigin.Room)));

        JsonElement message = await NextAsync("message");
        Assert.Equal(("lobby", Bob, "bob", "2026-11-26T01:02:03.456Z", "room"), (
            message.GetProperty("room").GetString(), message.GetProperty("from").GetString(),
            message.GetProperty("nick").GetString(), message.GetProperty("ts").GetString(),
            message.GetProperty("origin").GetString()));
        Assert.Equal("hi \u001b[31mred", message.GetProperty("text").GetString());
    }

    [Fact(Timeout = 10_000)]
    public async Task CatchUpMessage_IsMarkedAsHistory_LiveOneIsNot()
    {
        DateTimeOffset ts = new(2026, 11, 26, 1, 2, 3, 456, TimeSpan.Zero);
        _network.Inject(new HistoryPageFetched("lobby", Bob,
            [new ChatMessage("b:1", "lobby", Bob, "bob", "while you were away", ts, MessageOrigin.Room)]));
        _network.Inject(new MessageArrived(new ChatMessage("b:2", "lobby", Bob, "bob", "now", ts.AddMinutes(1), MessageOrigin.Room)));

        JsonElement old = await NextAsync("message");
        Assert.Equal("while you were away", old.GetProperty("text").GetString());
        Assert.True(old.GetProperty("history").GetBoolean());
        JsonElement live = await NextAsync("message");
        Assert.Equal("now", live.GetProperty("text").GetString());
        Assert.False(live.TryGetProperty("history", out _));
    }

    [Fact(Timeout = 10_000)]
    public async Task ControlCharacters_NeverReachTheOutputRaw()
    {
        _network.Inject(new MessageArrived(new ChatMessage("b:1", "lobby", Bob, "\u001b]0;x\u0007", "\u001b[2J\r\u009b",
            DateTimeOffset.UtcNow, MessageOrigin.Room)));
        using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        string line;
        do
            line = (await _stdoutReader.ReadLineAsync(timeout.Token))!;
        while (!line.Contains("\"message\"", StringComparison.Ordinal));
        Assert.DoesNotContain(line, char.IsControl);
        Assert.Contains("\\u001B[2J", line, StringComparison.OrdinalIgnoreCase);
    }

    [Fact(Timeout = 10_000)]
    public async Task Peers_ConnectAndDisconnect_Reported()
    {
        _network.Inject(new PeerJoined(new PeerInfo(Bob, "/ip4/127.0.0.1/tcp/9/p2p/" + Bob, PeerSource.Inbound, DateTimeOffset.UtcNow)));
        JsonElement connected = await NextAsync("peer");
        Assert.Equal(("connected", Bob, "inbound"), (connected.GetProperty("event").GetString(),
            connected.GetProperty("peerId").GetString(), connected.GetProperty("source").GetString()));

        _network.Inject(new PeerLeft(Bob));
        JsonElement disconnected = await NextAsync("peer");
        Assert.Equal("disconnected", disconnected.GetProperty("event").GetString());
    }

    [Fact(Timeout = 10_000)]
    public async Task ARememberedPeerThatIsAway_IsReportedReconnecting_WithWhenAndLastSeen()
    {
        DateTimeOffset lastSeen = DateTimeOffset.Parse("2026-05-01T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture);
        DateTimeOffset next = DateTimeOffset.Parse("2026-05-01T10:00:04.5Z", System.Globalization.CultureInfo.InvariantCulture);
        _network.Inject(new PeerReconnecting(new RememberedPeer(Bob, "/ip4/127.0.0.1/tcp/9/p2p/" + Bob, lastSeen, next)));

        JsonElement away = await NextAsync("peer");

        Assert.Equal(("reconnecting", Bob, "remembered"), (away.GetProperty("event").GetString(),
            away.GetProperty("peerId").GetString(), away.GetProperty("source").GetString()));
        Assert.Equal("2026-05-01T10:00:04.500Z", away.GetProperty("reconnectAt").GetString());
        Assert.Equal("2026-05-01T10:00:00.000Z", away.GetProperty("lastSeen").GetString());
    }

    [Fact(Timeout = 10_000)]
    public async Task SlashCommands_RunAndErrorsReported()
    {
        await _stdinWriter.WriteLineAsync("/join dev");
        await NextAsync("joined", j => j.GetProperty("room").GetString() == "dev");
        await _stdinWriter.WriteLineAsync("/connect /ip4/127.0.0.1/tcp/1");
        Assert.Contains("connection refused", (await NextAsync("error")).GetProperty("message").GetString());
        await _stdinWriter.WriteLineAsync("in dev");
        Assert.Equal("dev", (await NextAsync("message")).GetProperty("room").GetString());
    }

    [Fact(Timeout = 10_000)]
    public async Task Quit_EndsTheRun()
    {
        await _stdinWriter.WriteLineAsync("/quit");
        await _run.WaitAsync(TimeSpan.FromSeconds(5), Ct);
        Assert.True(_manager.QuitRequested.IsCancellationRequested);
    }

    [Fact(Timeout = 10_000)]
    public async Task EndOfInput_EndsTheRunAfterLastLineIsHandled()
    {
        await _stdinWriter.WriteLineAsync("last words");
        await _stdin.Writer.CompleteAsync();
        await _run.WaitAsync(TimeSpan.FromSeconds(5), Ct);
        Assert.Equal("last words", Assert.Single(_network.Published).Text);
        Assert.Equal("last words", (await NextAsync("message")).GetProperty("text").GetString());
    }

    [Fact(Timeout = 10_000)]
    public async Task PendingConnect_DoesNotHoldUpLaterLines()
    {
        TaskCompletionSource<string> dial = new(TaskCreationOptions.RunContinuationsAsynchronously);
        _network.ConnectSlowly = (_, ct) => dial.Task.WaitAsync(ct);
        await _stdinWriter.WriteLineAsync("/connect /ip4/127.0.0.1/tcp/4002/p2p/" + Bob);
        await _stdinWriter.WriteLineAsync("/join dev");
        await _stdinWriter.WriteLineAsync("while dialing");
        // Order is kept for everything but the dial: the line goes to the room joined before it.
        JsonElement message = await NextAsync("message");
        Assert.Equal("while dialing", message.GetProperty("text").GetString());
        Assert.Equal("dev", message.GetProperty("room").GetString());
        Assert.False(dial.Task.IsCompleted);
        dial.SetResult(Bob);
        Assert.Contains(Bob, (await NextAsync("notice")).GetProperty("text").GetString());
    }

    [Fact(Timeout = 10_000)]
    public async Task EndOfInput_WaitsForAPendingConnectToReport()
    {
        TaskCompletionSource<string> dial = new(TaskCreationOptions.RunContinuationsAsynchronously);
        _network.ConnectSlowly = (_, ct) => dial.Task.WaitAsync(ct);
        await _stdinWriter.WriteLineAsync("/connect /ip4/127.0.0.1/tcp/4002/p2p/" + Bob);
        await _stdinWriter.WriteLineAsync("after the dial line");
        await NextAsync("message");
        await _stdin.Writer.CompleteAsync();
        Assert.False(_run.IsCompleted);
        dial.SetException(new ChatNetworkException("no answer"));
        Assert.Contains("no answer", (await NextAsync("error")).GetProperty("message").GetString());
        await _run.WaitAsync(TimeSpan.FromSeconds(5), Ct);
    }
}
