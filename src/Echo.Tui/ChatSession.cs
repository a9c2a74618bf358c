using System.Threading.Channels;
using Echo.Core;
using Echo.Core.Chat;
using Echo.Core.Commands;
using Echo.Core.Conversations;
using Echo.Core.Direct;
using Echo.Core.Events;
using Echo.Core.Ports;
using Echo.Tui.Input;
using Echo.Tui.Views;
using Microsoft.Extensions.Logging;
using Terminal.Gui.App;
using Terminal.Gui.Drivers;
using Terminal.Gui.Input;

namespace Echo.Tui;

/// <summary>
/// One run of the terminal UI: a Terminal.Gui application on its own thread, a task that carries
/// the chat's events to it (applied on the UI thread only, a batch at a time) and a task that
/// runs what the user submits, in order, off the UI thread.
/// </summary>
internal sealed class ChatSession : IDisposable
{
    private const int MaxBatch = 256;
    private const int OlderPage = 100;


    private readonly ChatManager _manager;
    private readonly ChatTuiOptions _options;
    private readonly ILogger _logger;
    private readonly Channel<(ChatCommand Command, ConversationId? Conversation)> _submitted =
        Channel.CreateUnbounded<(ChatCommand, ConversationId?)>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly BackgroundTasks _background = new();   // the stored conversations' load, PgUp's older pages
    private volatile bool _running;
    private int _started;
    private int _loadingOlder;

    public ChatSession(ChatManager manager, ChatTuiOptions options)
    {
        _manager = manager;
        _options = options;
        _logger = options.Logger;
        App = Application.Create();
    }

    /// <summary>The Terminal.Gui application (tests inject keys and read the screen through it).</summary>
    public IApplication App { get; }

    /// <summary>The chat screen, once <see cref="Ready"/> completed.</summary>
    public ChatWindow? Window { get; private set; }

    /// <summary>Completes when the screen is up and taking keys.</summary>
    public Task Ready => _ready.Task;

    /// <summary>Runs the UI on a new thread; completes when it has ended and the terminal is restored.</summary>
    public Task RunAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
            throw new InvalidOperationException("the terminal UI runs once");
        TaskCompletionSource done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        Thread thread = new(() =>
        {
            try
            {
                RunOnUiThread(cancellationToken);
                done.TrySetResult();
            }
            catch (Exception e)
            {
                _ready.TrySetException(e);
                done.TrySetException(e);
            }
        })
        {
            Name = "echo-tui",
            IsBackground = true,
        };
        thread.Start();
        return done.Task;
    }

    /// <summary>Stops the UI (from any thread).</summary>
    public void Stop() => _stopping.Cancel();

    private void RunOnUiThread(CancellationToken cancellationToken)
    {
        // Subscribe before the window reads its snapshot, so nothing falls between the two;
        // the window drops what it sees twice.
        using ChatSubscription subscription = _manager.Subscribe();
        using CancellationTokenSource stop = CancellationTokenSource.CreateLinkedTokenSource(
            cancellationToken, _manager.QuitRequested, _stopping.Token);
        Task pump = Task.CompletedTask;
        Task submitter = Task.CompletedTask;
        Task ticker = Task.CompletedTask;
        ChatWindow? window = null;
        try
        {
            App.Init(_options.Driver);
            if (_options.ScreenSize is { } size)
                App.Driver!.SetScreenSize(size.Width, size.Height);
            window = new ChatWindow(_manager, Submit, _options.Clock, _options.ScrollbackLines);
            window.Bell = _options.Bell;
            window.WriteRaw = App.Driver is { } driver ? driver.WriteRaw : null;
            window.LoadBackTo = (room, target) => LoadBackTo(window, room, target);
            Window = window;
            App.Keyboard.KeyDown += OnKey;
            _running = true;
            pump = PumpEventsAsync(subscription, window, stop.Token);
            _background.Track(LoadConversationsAsync(window, stop.Token));
            submitter = RunSubmittedAsync(window, stop.Token);
            ticker = TickAsync(window, stop.Token);
            using CancellationTokenRegistration onStop = stop.Token.Register(() => Invoke(() => App.RequestStop()));
            Log.Started(_logger, App.Driver?.GetName() ?? "?", App.Screen.Width, App.Screen.Height);
            if (App.Driver is { } input && !AltKeySequences.Install(input.GetInputProcessor()))
                Log.AltKeyHookMissing(_logger);
            _ready.TrySetResult();
            if (!stop.IsCancellationRequested)
                App.Run(window);
        }
        finally
        {
            _running = false;
            stop.Cancel();
            _submitted.Writer.TryComplete();
            App.Keyboard.KeyDown -= OnKey;
            WaitQuietly(pump);
            WaitQuietly(submitter);
            WaitQuietly(ticker);
            WaitQuietly(Task.WhenAll(_background.Snapshot()));
            window?.Dispose();
            App.Dispose();
            Log.Stopped(_logger);
        }
    }

    private void OnKey(object? sender, Key key)
    {
        ChatWindow? window = Window;
        if (window is null)
            return;
        if (key == Key.Q.WithCtrl || key == Key.C.WithCtrl)
        {
            _manager.RequestQuit(); // every view of the chat sees the QuitEvent
            Stop();
        }
        else if (key == Key.N.WithCtrl)
            window.CycleRoom(+1);
        else if (key == Key.P.WithCtrl)
            window.CycleRoom(-1);
        else if (key.IsAlt && key.NoAlt.KeyCode is >= KeyCode.D1 and <= KeyCode.D9)
            window.SwitchToNumber((int)(key.NoAlt.KeyCode - KeyCode.D0));
        else if (key == Key.PageUp)
        {
            if (window.Scrollback.AtTop)
                LoadOlder(window);
            window.Scrollback.ScrollPages(1);
        }
        else if (key == Key.PageDown)
            window.Scrollback.ScrollPages(-1);
        else if (key == Key.F6)
            window.CycleFocus();
        else if (key == Key.R.WithCtrl)
            window.StartSearch();
        else if (key == Key.F3)
            window.JumpToResult(+1);
        else if (key == Key.F3.WithShift)
            window.JumpToResult(-1);
        else if (SearchStep(window, key) is { } step)
            window.JumpToResult(step);
        else if (key == Key.Esc)
        {
            window.EndSearch();
            window.Scrollback.ScrollToEnd(); // and not Terminal.Gui's default of quitting
        }
        else
        {
            if (window.Searching && key.AsRune.Value != 0)
                window.EndSearch(); // typing something else: the line is for the input again
            return;
        }
        key.Handled = true;
    }

    /// <summary>
    /// While a search is on and the input line is empty, as in less and weechat: n and Enter go to the
    /// next result (+1), N to the previous one (-1); null for any other key.
    /// </summary>
    private static int? SearchStep(ChatWindow window, Key key)
    {
        if (!window.Searching || !window.Input.HasFocus || window.Input.Text.Length != 0)
            return null;
        if (key == Key.Enter || key.AsRune.Value == 'n')
            return +1;
        return key.AsRune.Value == 'N' ? -1 : null;
    }

    /// <summary>A typed line, parsed here once, to run in the conversation it was typed in.</summary>
    private void Submit(string line, ConversationId? conversation) => _submitted.Writer.TryWrite((CommandParser.Parse(line), conversation));

    /// <summary>Draws the direct conversations Core holds (those of earlier runs among them) once the window is up.</summary>
    private async Task LoadConversationsAsync(ChatWindow window, CancellationToken cancellationToken)
    {
        try
        {
            IReadOnlyList<DirectMessage> held = await _manager.RecentDirectMessagesAsync(cancellationToken).ConfigureAwait(false);
            if (held.Count > 0)
                Invoke(() => window.LoadDirect(held));
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>At the top of a room's lines, PgUp fetches the page before them from the history (one fetch at a time).</summary>
    private void LoadOlder(ChatWindow window)
    {
        if (window.CurrentRoom is not { } room || window.OldestShown(room) is not { } oldest
            || Interlocked.Exchange(ref _loadingOlder, 1) != 0)
            return;
        CancellationToken stopping = _stopping.Token;
        _background.Track(Task.Run(async () =>
        {
            try
            {
                IReadOnlyList<ChatMessage> older = await _manager.LoadOlderAsync(room, oldest, OlderPage, stopping)
                    .ConfigureAwait(false);
                Invoke(() => window.PrependOlder(room, older));
            }
            catch (OperationCanceledException)
            {
            }
            finally
            {
                Volatile.Write(ref _loadingOlder, 0);
            }
        }));
    }

    /// <summary>
    /// A search result older than the lines shown: loads the history from it up to them, a page at a
    /// time and at most a scrollback's worth, puts it above them, then shows the result.
    /// </summary>
    private void LoadBackTo(ChatWindow window, string room, HistoryCursor target)
    {
        if (Interlocked.Exchange(ref _loadingOlder, 1) != 0)
            return;
        HistoryCursor? from = window.OldestShown(room);
        CancellationToken stopping = _stopping.Token;
        _background.Track(Task.Run(async () =>
        {
            try
            {
                List<ChatMessage> loaded = [];
                HistoryCursor before = from ?? HistoryCursor.End;
                while (loaded.Count < _options.ScrollbackLines)
                {
                    IReadOnlyList<ChatMessage> page = await _manager.LoadOlderAsync(room, before,
                        Math.Min(OlderPage, _options.ScrollbackLines - loaded.Count), stopping).ConfigureAwait(false);
                    if (page.Count == 0)
                        break;
                    loaded.InsertRange(0, page);
                    before = HistoryCursor.Of(page[0]);
                    if (before <= target)
                        break;
                }
                Invoke(() =>
                {
                    window.PrependOlder(room, loaded);
                    window.ShowLoadedResult(room);
                });
            }
            catch (OperationCanceledException)
            {
            }
            finally
            {
                Volatile.Write(ref _loadingOlder, 0);
            }
        }));
    }

    /// <summary>
    /// Runs submitted lines one after the other, so "/join x" then "hi" says hi in x. A /connect
    /// may take the whole dial timeout, so it runs beside the queue instead of holding it up.
    /// </summary>
    private async Task RunSubmittedAsync(ChatWindow window, CancellationToken cancellationToken)
    {
        await Task.Yield();
        BackgroundTasks dials = new();
        try
        {
            await foreach ((ChatCommand command, ConversationId? conversation) in _submitted.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                Task task = SubmitOneAsync(command, conversation, window, cancellationToken);
                if (command is not ChatCommand.Connect)
                    await task.ConfigureAwait(false);
                else
                    dials.Track(task);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        // The dials still running see the same cancellation; the session ends after them.
        await Task.WhenAll(dials.Snapshot()).ConfigureAwait(false);
    }

    private async Task SubmitOneAsync(ChatCommand command, ConversationId? conversation, ChatWindow window, CancellationToken cancellationToken)
    {
        if (command is ChatCommand.Clear)
        {
            Invoke(window.ClearConversation);   // this window only, never the history
            return;
        }
        try
        {
            if (command is ChatCommand.Search search && conversation?.RoomName is { } room)
            {
                // The results are listed in the room, numbered, to jump to (F3).
                IReadOnlyList<ChatMessage> found = await _manager.SearchAsync(room, search.Text, ChatManager.MaxSearchResults,
                    cancellationToken).ConfigureAwait(false);
                Invoke(() => window.ShowSearch(room, search.Text, found));
                return;
            }
            await _manager.RunAsync(command, conversation, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            // The chat turns failures into ErrorEvents; anything else is a bug, but the UI stays up.
            Log.SubmitFailed(_logger, e);
            Invoke(() => window.ShowError($"internal error: {e.Message}"));
        }
    }

    /// <summary>Carries events to the UI thread a batch at a time, waiting for each batch to be applied.</summary>
    private async Task PumpEventsAsync(ChatSubscription subscription, ChatWindow window, CancellationToken cancellationToken)
    {
        await Task.Yield();
        ChannelReader<ChatEvent> events = subscription.Events;
        try
        {
            while (await events.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                List<ChatEvent> batch = [];
                while (batch.Count < MaxBatch && events.TryRead(out ChatEvent? chatEvent))
                    batch.Add(chatEvent);
                TaskCompletionSource applied = new(TaskCreationOptions.RunContinuationsAsynchronously);
                if (!Invoke(() =>
                    {
                        try
                        {
                            ApplyBatch(window, batch);
                        }
                        finally
                        {
                            applied.TrySetResult();
                        }
                    }))
                {
                    return;
                }
                await applied.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Once a second, lets the window count down what is shown as "in Ns".</summary>
    private async Task TickAsync(ChatWindow window, CancellationToken cancellationToken)
    {
        try
        {
            using PeriodicTimer timer = new(TimeSpan.FromSeconds(1), _options.Clock);
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                if (!Invoke(window.RefreshAwayPeers))
                    return;
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private void ApplyBatch(ChatWindow window, List<ChatEvent> batch)
    {
        try
        {
            window.Apply(batch);
        }
        catch (Exception e)
        {
            Log.ApplyFailed(_logger, e);
        }
        if (batch.Exists(e => e is QuitEvent))
            Stop();
    }

    /// <summary>Runs <paramref name="action"/> on the UI thread; false when the UI has ended.</summary>
    private bool Invoke(Action action)
    {
        if (!_running)
            return false;
        try
        {
            App.Invoke(action);
            return true;
        }
        catch (Exception e) when (e is ObjectDisposedException or InvalidOperationException or NullReferenceException)
        {
            return false; // the UI ended between the check and the call
        }
    }

    private static void WaitQuietly(Task task)
    {
        try
        {
            task.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _started, 1) == 0)
            App.Dispose(); // never ran: RunAsync disposes it otherwise
        _stopping.Dispose();
    }
}
