using System.Text.Json;
using Echo.Core.Ports;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Protocols;

namespace Echo.Interop.Tests;

/// <summary>
/// Echo against the js peer playing echo-go by the real program's rules, through a link with 20 ms
/// each way: whoever dials, whichever id is smaller, every line arrives once in both directions.
/// </summary>
public sealed class EchoGoLatencyTests
{
    private const int Runs = 20;
    private const int AtOnce = 5;
    private static readonly TimeSpan OneWay = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private static readonly AsyncLocal<RunLog> Logs = new();

    public enum Dialer
    {
        Echo,
        Js,
        Both,
    }

    [Theory(Timeout = 120_000)]
    [InlineData(true, Dialer.Echo)]
    [InlineData(false, Dialer.Echo)]
    [InlineData(true, Dialer.Js)]
    [InlineData(false, Dialer.Js)]
    [InlineData(true, Dialer.Both)]
    [InlineData(false, Dialer.Both)]
    public async Task EchoGoPeer_ThroughA20msLink_EveryLineArrivesOnceBothWays(bool echoIdSmaller, Dialer dialer)
    {
        await NodeRequirement.EnsureAvailableAsync(Ct);
        await using JsPeer js = await JsPeer.StartAsync(new Dictionary<string, string>
        {
            ["ECHO_GO"] = "1",
            // Every proxied connection comes from 127.0.0.1: js would refuse more than 5 a second.
            ["INBOUND_CONNECTION_THRESHOLD"] = "10000",
            ["MAX_INCOMING_PENDING_CONNECTIONS"] = "100",
        }, Ct);
        PeerId jsId = PeerId.Parse(js.PeerId);
        await using DelayProxy toJs = new(DelayProxy.PortOf(js.Addr), OneWay);
        await Parallel.ForAsync(0, Runs, new ParallelOptions { MaxDegreeOfParallelism = AtOnce, CancellationToken = Ct },
            async (run, _) => await RunOnceAsync(js, jsId, toJs, echoIdSmaller, dialer, run));
    }

    private static async Task RunOnceAsync(JsPeer js, PeerId jsId, DelayProxy toJs, bool echoIdSmaller, Dialer dialer, int run)
    {
        KeyPair key = KeyPair.Generate();
        while (key.PeerId.Bytes.SequenceCompareTo(jsId.Bytes) < 0 != echoIdSmaller)
        {
            key.Dispose();
            key = KeyPair.Generate();
        }
        RunLog log = new();
        Libp2pHost host = new(key, new HostOptions { ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")] }, log);
        await using Libp2pChatNetwork echo = new(host, TestNetworks.Options, log);
        Logs.Value = log;
        await echo.StartAsync(Ct);
        string echoId = echo.LocalPeerId;
        await using DelayProxy toEcho = new(DelayProxy.PortOf(echo.ListenAddresses[0]), OneWay);
        List<string> heard = [];
        string where = $"run {run} ({dialer} dials, Echo's id {(echoIdSmaller ? "smaller" : "larger")})";

        Task echoDial = dialer is Dialer.Echo or Dialer.Both ? echo.ConnectAsync(toJs.AddressFor(js.PeerId), Ct) : Task.CompletedTask;
        Task jsDial = dialer is Dialer.Js or Dialer.Both
            ? js.CommandAsync("echoGoDial", new { addr = toEcho.AddressFor(echoId) }, Ct)
            : Task.CompletedTask;
        if (dialer == Dialer.Both)
        {
            // Both dial at once: either dial may lose to the other's connection; one connection must remain.
            await Task.WhenAll(echoDial, jsDial).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await TestHosts.WaitUntilAsync(() => echo.Host.GetConnection(jsId) is not null, $"{where}: connected", Wait);
            // Echo's host keeps one connection per peer and closes the other at once; js (like go) keeps
            // both, and a line echo-go writes on a stream of the closed one in that instant is lost with
            // it. Lines start once js is down to the connection Echo kept.
            await WhenJsHasOneConnectionAsync(js, echoId, where);
        }
        else
            await Task.WhenAll(echoDial, jsDial);
        await TestHosts.WaitUntilAsync(() => echo.EchoGo.Speaks(jsId), $"{where}: Echo knows js speaks echo-go", Wait);

        // At once, while the streams may still be opening: Echo's line waits for a stream, js's goes on the one it stored.
        await echo.PublishAsync("lobby", "echo", $"e{run} early", Ct);
        await JsSaysAsync(js, echo, jsId, echoId, $"j{run} early", where);
        await HeardAsync(echo, heard, $"j{run} early", where, js, jsId);
        await JsHeardAsync(js, echo, jsId, echoId, $"echo|e{run} early", where);

        // Settled: the same again on whatever streams remain.
        await echo.PublishAsync("lobby", "echo", $"e{run} late", Ct);
        await JsSaysAsync(js, echo, jsId, echoId, $"j{run} late", where);
        await HeardAsync(echo, heard, $"j{run} late", where, js, jsId);
        await JsHeardAsync(js, echo, jsId, echoId, $"echo|e{run} late", where);

        while (echo.Events.TryRead(out NetworkEvent? e))
        {
            if (e is MessageArrived m)
                heard.Add(m.Message.Text);
        }
        Assert.Equal([$"j{run} early", $"j{run} late"], heard);
        JsonElement state = await js.CommandAsync("echoGoState", new { peer = echoId }, Ct);
        Assert.Equal([$"echo|e{run} early", $"echo|e{run} late"], state.GetProperty("lines").EnumerateArray().Select(l => l.GetString()));
    }

    private static async Task<string> DescribeAsync(JsPeer js, Libp2pChatNetwork echo, PeerId jsId, string echoId)
    {
        JsonElement state = await js.CommandAsync("echoGoState", new { peer = echoId }, Ct);
        return $"js: stored {state.GetProperty("stored")}, forgotten {state.GetProperty("forgotten")}, refused {state.GetProperty("refused")}, "
            + $"lines [{string.Join(", ", state.GetProperty("lines").EnumerateArray())}]; Echo: {echo.EchoGo.Describe(jsId)}, "
            + $"connected {echo.Host.GetConnection(jsId) is not null}; Echo's log:{Environment.NewLine}{Logs.Value}";
    }

    /// <summary>
    /// js writes a line as echo-go would: on the stream it stored for Echo. echo-go can only speak once
    /// it has one that is open (its own, or the first one Echo opened; one on a connection that is
    /// going away cannot be written), so a line it could not write at all is typed again, within the bound.
    /// </summary>
    private static async Task JsSaysAsync(JsPeer js, Libp2pChatNetwork echo, PeerId jsId, string echoId, string text, string where)
    {
        using PeriodicTimer poll = new(TimeSpan.FromMilliseconds(50));
        long deadline = Environment.TickCount64 + (long)Wait.TotalMilliseconds;
        while (true)
        {
            try
            {
                await js.CommandAsync("echoGoSend", new { peer = echoId, name = "gopher", text }, Ct);
                return;
            }
            catch (JsPeerException e) when (e.JsError is { } error && (error.Contains("no echo-go stream stored", StringComparison.Ordinal)
                || error.Contains("Cannot write to a stream", StringComparison.Ordinal)))
            {
                if (Environment.TickCount64 > deadline)
                    Assert.Fail($"{where}: js never had an open echo-go stream to Echo ({error}); {await DescribeAsync(js, echo, jsId, echoId)}");
            }
            await poll.WaitForNextTickAsync(Ct);
        }
    }

    private static async Task WhenJsHasOneConnectionAsync(JsPeer js, string echoId, string where)
    {
        using PeriodicTimer poll = new(TimeSpan.FromMilliseconds(50));
        long deadline = Environment.TickCount64 + (long)Wait.TotalMilliseconds;
        while ((await js.CommandAsync("connections", null, Ct)).GetProperty("connections").EnumerateArray()
               .Count(c => c.GetProperty("peerId").GetString() == echoId && c.GetProperty("status").GetString() == "open") != 1)
        {
            Assert.True(Environment.TickCount64 < deadline, $"{where}: js never settled on one connection to Echo");
            await poll.WaitForNextTickAsync(Ct);
        }
    }

    private static async Task JsHeardAsync(JsPeer js, Libp2pChatNetwork echo, PeerId jsId, string echoId, string line, string where)
    {
        using PeriodicTimer poll = new(TimeSpan.FromMilliseconds(50));
        long deadline = Environment.TickCount64 + (long)Wait.TotalMilliseconds;
        while (!(await js.CommandAsync("echoGoState", new { peer = echoId }, Ct)).GetProperty("lines").EnumerateArray().Any(l => l.GetString() == line))
        {
            if (Environment.TickCount64 > deadline)
                Assert.Fail($"{where}: js did not receive '{line}'; {await DescribeAsync(js, echo, jsId, echoId)}");
            await poll.WaitForNextTickAsync(Ct);
        }
    }

    /// <summary>Reads Echo's events until the line arrives, noting every line heard on the way.</summary>
    private static async Task HeardAsync(Libp2pChatNetwork echo, List<string> heard, string text, string where, JsPeer js, PeerId jsId)
    {
        using CancellationTokenSource deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(Wait);
        try
        {
            while (true)
            {
                if (await echo.Events.ReadAsync(deadline.Token) is MessageArrived m)
                {
                    heard.Add(m.Message.Text);
                    if (m.Message.Text == text)
                        return;
                }
            }
        }
        catch (OperationCanceledException) when (!Ct.IsCancellationRequested)
        {
            Assert.Fail($"{where}: Echo did not receive '{text}'; {await DescribeAsync(js, echo, jsId, echo.LocalPeerId)}");
        }
    }
}
