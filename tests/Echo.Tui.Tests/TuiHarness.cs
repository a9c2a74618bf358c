using System.Text;
using Echo.Core;
using Echo.Core.Chat;
using Echo.Core.Ports;
using Echo.Tui.Views;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Terminal.Gui.App;
using Terminal.Gui.Drawing;
using Terminal.Gui.Drivers;
using Terminal.Gui.Input;
using Terminal.Gui.Testing;

namespace Echo.Tui.Tests;

/// <summary>
/// A chat manager over <see cref="FakeChatNetwork"/> with the terminal UI running on Terminal.Gui's
/// ANSI driver without a terminal: keys go in through its input injector, the screen is read
/// back from the driver's cell buffer. Every wait is bounded.
/// </summary>
internal sealed class TuiHarness : IAsyncDisposable
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    /// <summary>The zone the tests show times in: not UTC, so a missing conversion shows.</summary>
    public static readonly TimeZoneInfo Zone = TimeZoneInfo.CreateCustomTimeZone("test+02", TimeSpan.FromHours(2), "test+02", "test+02");

    private readonly CancellationTokenSource _cancel = new();
    private bool _disposed;

    private TuiHarness(FakeTimeProvider clock, FakeChatNetwork network, ChatManager manager, ChatSession session, Task run)
    {
        Clock = clock;
        Network = network;
        Manager = manager;
        Session = session;
        Run = run;
    }

    public FakeTimeProvider Clock { get; }

    public FakeChatNetwork Network { get; }

    /// <summary>A message from <paramref name="senderId"/> arrives, stamped with the test clock unless <paramref name="at"/> says otherwise.</summary>
    public ChatMessage Say(string senderId, string nick, string room, string text, DateTimeOffset? at = null,
        MessageOrigin origin = MessageOrigin.Room) =>
        Network.Say(senderId, nick, room, text, at ?? Clock.GetUtcNow(), origin);

    public ChatManager Manager { get; }

    public ChatSession Session { get; }

    /// <summary>The UI's run; completes when the UI has ended.</summary>
    public Task Run { get; private set; }

    public ChatWindow Window => Session.Window ?? throw new InvalidOperationException("the window is not up");

    public IApplication App => Session.App;

    public static async Task<TuiHarness> StartAsync(int width = 100, int height = 30, string nick = "alice",
        Func<FakeChatNetwork, ChatManager, Task>? beforeUi = null, Echo.Core.Ports.IMessageStore? store = null,
        FakeDirectNetwork? direct = null, Echo.Core.Ports.IDirectStore? directStore = null)
    {
        FakeTimeProvider clock = new(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));
        clock.SetLocalTimeZone(Zone);
        FakeChatNetwork network = direct?.Chat ?? new();
        ChatManager manager = new(direct ?? (IChatNetwork)network, new ChatOptions { Nick = nick }, NullLogger<ChatManager>.Instance, store,
            directStore);
        await manager.StartAsync(TestContext.Current.CancellationToken);
        if (beforeUi is not null)
            await beforeUi(network, manager);
        ChatSession session = new(manager, new ChatTuiOptions
        {
            Clock = clock,
            Driver = DriverRegistry.Names.ANSI,
            ScreenSize = (width, height),
        });
        TuiHarness harness = new(clock, network, manager, session, Task.CompletedTask);
        harness.Run = session.RunAsync(harness._cancel.Token);
        await session.Ready.WaitAsync(Patience, TestContext.Current.CancellationToken);
        return harness;
    }

    /// <summary>Bob says "<paramref name="prefix"/> 0" to "<paramref name="prefix"/> <paramref name="count"/>-1" in lobby; returns once the last is on screen.</summary>
    public Task<string> BobSaysAsync(int count, string prefix)
    {
        for (int i = 0; i < count; i++)
            Say(NetworkScript.BobId, "bob", "lobby", $"{prefix} {i}");
        return WaitForScreenAsync($"<bob> {prefix} {count - 1}");
    }

    /// <summary>Runs <paramref name="action"/> on the UI thread and waits for it.</summary>
    public Task<T> OnUiAsync<T>(Func<T> action)
    {
        TaskCompletionSource<T> done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        App.Invoke(() =>
        {
            try
            {
                done.TrySetResult(action());
            }
            catch (Exception e)
            {
                done.TrySetException(e);
            }
        });
        return done.Task.WaitAsync(Patience, TestContext.Current.CancellationToken);
    }

    public Task OnUiAsync(Action action) => OnUiAsync(() =>
    {
        action();
        return true;
    });

    /// <summary>Presses one key, as the terminal would deliver it.</summary>
    public Task PressAsync(Key key) => OnUiAsync(() => App.InjectKey(key));

    /// <summary>Types <paramref name="text"/> one key per character.</summary>
    public async Task TypeAsync(string text)
    {
        foreach (char c in text)
            await PressAsync(new Key(c));
    }

    /// <summary>Types a line and presses Enter.</summary>
    public async Task SubmitAsync(string line)
    {
        await TypeAsync(line);
        await PressAsync(Key.Enter);
    }

    /// <summary>The screen as text, one line per row, after laying out and drawing what changed.</summary>
    public Task<string> ScreenAsync() => OnUiAsync(() =>
    {
        App.LayoutAndDraw(false);
        return App.Driver!.ToString() ?? "";
    });

    /// <summary>The driver's cells after drawing, [row, column].</summary>
    public Task<Cell[,]> CellsAsync() => OnUiAsync(() =>
    {
        App.LayoutAndDraw(false);
        return (Cell[,])App.Driver!.Contents!.Clone();
    });

    /// <summary>
    /// Waits until <paramref name="condition"/> holds on the UI thread. Each check is its own UI
    /// iteration, so this moves at the UI's pace; it gives up after <see cref="Patience"/> and
    /// fails with the screen.
    /// </summary>
    public async Task WaitUntilAsync(Func<ChatWindow, bool> condition, string what)
    {
        DateTime deadline = DateTime.UtcNow + Patience;
        while (!await OnUiAsync(() => condition(Window)))
        {
            if (DateTime.UtcNow > deadline)
                Assert.Fail($"timed out waiting until {what}; the screen:\n{await ScreenAsync()}");
        }
    }

    /// <summary>Waits until the screen shows <paramref name="text"/>.</summary>
    public async Task<string> WaitForScreenAsync(string text)
    {
        DateTime deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            string screen = await ScreenAsync();
            if (screen.Contains(text, StringComparison.Ordinal))
                return screen;
            if (DateTime.UtcNow > deadline)
                Assert.Fail($"timed out waiting for \"{text}\" on the screen:\n{screen}");
        }
    }

    /// <summary>Rows of the screen as strings.</summary>
    public static string[] Rows(string screen)
    {
        List<string> rows = [.. screen.Split('\n').Select(r => r.TrimEnd('\r'))];
        while (rows.Count > 0 && rows[^1].Trim().Length == 0)
            rows.RemoveAt(rows.Count - 1);
        return [.. rows];
    }

    /// <summary>Every cell's text, row by row.</summary>
    public static string Text(Cell[,] cells)
    {
        StringBuilder builder = new();
        for (int row = 0; row < cells.GetLength(0); row++)
        {
            for (int column = 0; column < cells.GetLength(1); column++)
                builder.Append(cells[row, column].Grapheme);
            builder.Append('\n');
        }
        return builder.ToString();
    }

    /// <summary>Ends the UI only (as the command line does on Ctrl+C), leaving the chat running.</summary>
    public async Task StopUiAsync()
    {
        await _cancel.CancelAsync();
        await Run.WaitAsync(Patience, TestContext.Current.CancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
            return;
        _disposed = true;
        await _cancel.CancelAsync();
        try
        {
            await Run.WaitAsync(Patience);
        }
        finally
        {
            await Manager.DisposeAsync();
            _cancel.Dispose();
        }
    }
}
