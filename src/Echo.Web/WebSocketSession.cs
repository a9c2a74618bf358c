using System.Buffers;
using System.Net.WebSockets;
using System.Text.Json;
using Echo.Core;
using Echo.Core.Commands;
using Echo.Core.Events;
using Microsoft.Extensions.Logging;

namespace Echo.Web;

/// <summary>
/// One page's WebSocket: the snapshot, then every chat event as it happens; the page's requests
/// (typed lines, join, leave, switch, nick, connect, direct messages, downloads, older history) go to
/// the <see cref="ChatManager"/> in order,
/// except connect, which runs beside them because a dial may take its whole timeout.
/// </summary>
internal sealed class WebSocketSession
{
    /// <summary>Stored messages sent for one "older" request.</summary>
    internal const int OlderPage = 100;

    /// <summary>The close reason after the chat quit (the page then shows the node stopped, and does not reconnect).</summary>
    internal const string QuitReason = "the node quit";

    private readonly WebSocket _socket;
    private readonly ChatManager _chat;
    private readonly int _maxMessageBytes;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly List<Task> _connects = [];
    private volatile bool _quit;

    private WebSocketSession(WebSocket socket, ChatManager chat, int maxMessageBytes, ILogger logger)
    {
        _socket = socket;
        _chat = chat;
        _maxMessageBytes = maxMessageBytes;
        _logger = logger;
    }

    /// <summary>Serves the page on <paramref name="socket"/> until it closes, the chat quits or <paramref name="cancellationToken"/> fires.</summary>
    public static async Task RunAsync(WebSocket socket, ChatManager chat, int maxMessageBytes, ILogger logger,
        CancellationToken cancellationToken)
    {
        WebSocketSession session = new(socket, chat, maxMessageBytes, logger);
        try
        {
            await session.RunAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            session._sendLock.Dispose();
        }
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        // The reader has its own token: cancelling a WebSocket receive aborts the connection, and a
        // page should get a proper close (after the quit event, or when the server stops) instead.
        using CancellationTokenSource stopWriting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using CancellationTokenSource stopReading = new();
        // Subscribe before the snapshot, so nothing falls between the two; what the snapshot holds is not sent again.
        using ChatSubscription subscription = _chat.Subscribe();
        Task writer = Task.CompletedTask;
        Task reader = Task.CompletedTask;
        try
        {
            HashSet<string> shown = new(StringComparer.Ordinal);
            await SendAsync(await WebJson.SnapshotAsync(_chat, shown, stopWriting.Token).ConfigureAwait(false), stopWriting.Token).ConfigureAwait(false);
            writer = WriteEventsAsync(subscription, shown, stopWriting.Token);
            reader = ReadRequestsAsync(stopReading.Token);
            if (await Task.WhenAny(writer, reader).ConfigureAwait(false) == writer)
            {
                // The chat quit or the server stops: say goodbye and give the page a moment to answer.
                await CloseAsync(WebSocketCloseStatus.NormalClosure, _quit ? QuitReason : "the chat ended").ConfigureAwait(false);
                await Quietly(reader.WaitAsync(TimeSpan.FromSeconds(2), CancellationToken.None)).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
        }
        finally
        {
            await stopWriting.CancelAsync().ConfigureAwait(false);
            await stopReading.CancelAsync().ConfigureAwait(false);
            await Quietly(writer).ConfigureAwait(false);
            await Quietly(reader).ConfigureAwait(false);
            Task[] connects;
            lock (_connects)
                connects = [.. _connects];
            await Quietly(Task.WhenAll(connects)).ConfigureAwait(false);
        }
        await CloseAsync(WebSocketCloseStatus.NormalClosure, "bye").ConfigureAwait(false);
    }

    private async Task WriteEventsAsync(ChatSubscription subscription, HashSet<string> shown, CancellationToken cancellationToken)
    {
        await foreach (ChatEvent chatEvent in subscription.Events.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            if (shown.Count > 0 && InSnapshot(chatEvent, shown))
                continue;
            if (WebJson.Event(chatEvent) is { } json)
                await SendAsync(json, cancellationToken).ConfigureAwait(false);
            if (chatEvent is QuitEvent)
            {
                _quit = true;
                return;
            }
        }
    }

    /// <summary>True for a message the snapshot already held (its event was queued before the snapshot was taken).</summary>
    private static bool InSnapshot(ChatEvent chatEvent, HashSet<string> shown) => chatEvent switch
    {
        MessageEvent m => shown.Remove(WebJson.ShownKey(m.Conversation, m.Message.Id)),
        DirectMessageEvent d => shown.Remove(WebJson.ShownKey(d.Conversation, d.Message.Id)),
        _ => false,
    };

    private async Task ReadRequestsAsync(CancellationToken cancellationToken)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(_maxMessageBytes);
        try
        {
            while (true)
            {
                int length = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    if (length == _maxMessageBytes)
                    {
                        await CloseAsync(WebSocketCloseStatus.MessageTooBig, $"messages are limited to {_maxMessageBytes} bytes").ConfigureAwait(false);
                        return;
                    }
                    result = await _socket.ReceiveAsync(buffer.AsMemory(length, _maxMessageBytes - length), cancellationToken).ConfigureAwait(false);
                    if (result.MessageType == WebSocketMessageType.Close)
                        return;
                    length += result.Count;
                }
                while (!result.EndOfMessage);
                if (result.MessageType != WebSocketMessageType.Text)
                {
                    await CloseAsync(WebSocketCloseStatus.InvalidMessageType, "only JSON text messages").ConfigureAwait(false);
                    return;
                }
                await HandleAsync(buffer.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task HandleAsync(ReadOnlyMemory<byte> json, CancellationToken cancellationToken)
    {
        WebRequest request;
        try
        {
            request = WebRequest.Parse(json.Span);
        }
        catch (FormatException e)
        {
            Log.BadRequest(_logger, e.Message);
            await SendAsync(WebJson.Error(e.Message), cancellationToken).ConfigureAwait(false);
            return;
        }
        switch (request)
        {
            case WebRequest.Line line:
                await _chat.RunAsync(CommandParser.Parse(line.Text), line.Conversation, cancellationToken).ConfigureAwait(false);
                break;
            case WebRequest.Send send:
                await (send.Conversation is { } conversation
                    ? _chat.SendAsync(conversation, send.Text, cancellationToken)
                    : _chat.SendAsync(send.Text, cancellationToken)).ConfigureAwait(false);
                break;
            case WebRequest.Join join:
                await _chat.JoinAsync(join.Room, cancellationToken).ConfigureAwait(false);
                break;
            case WebRequest.Leave leave:
                await _chat.LeaveAsync(leave.Room, cancellationToken).ConfigureAwait(false);
                break;
            case WebRequest.Switch to:
                _chat.SwitchRoom(to.Room);
                break;
            case WebRequest.Nick nick:
                _chat.SetNick(nick.Name);
                break;
            case WebRequest.Direct direct:
                await _chat.SendDirectAsync(direct.To, direct.Text, cancellationToken).ConfigureAwait(false);
                break;
            case WebRequest.Get get:
                _chat.GetFile(get.Id);
                break;
            case WebRequest.Cancel cancel:
                _chat.CancelFile(cancel.Id);
                break;
            case WebRequest.Older older:
                IReadOnlyList<Core.Chat.ChatMessage> messages = await _chat.LoadOlderAsync(older.Room,
                    new Core.Ports.HistoryCursor(older.Before.ToUnixTimeMilliseconds(), older.BeforeId), OlderPage, cancellationToken).ConfigureAwait(false);
                await SendAsync(WebJson.Older(older.Room, messages, more: messages.Count == OlderPage), cancellationToken).ConfigureAwait(false);
                break;
            case WebRequest.Connect connect:
                lock (_connects)
                {
                    _connects.RemoveAll(t => t.IsCompleted);
                    _connects.Add(_chat.ConnectAsync(connect.Address, cancellationToken));
                }
                break;
        }
    }

    private async Task SendAsync(byte[] json, CancellationToken cancellationToken)
    {
        await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _socket.SendAsync(json, WebSocketMessageType.Text, endOfMessage: true, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    private async Task CloseAsync(WebSocketCloseStatus status, string reason)
    {
        if (_socket.State is not (WebSocketState.Open or WebSocketState.CloseReceived))
            return;
        using CancellationTokenSource limit = new(TimeSpan.FromSeconds(2));
        try
        {
            await _socket.CloseOutputAsync(status, reason, limit.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
        }
    }

    private static async Task Quietly(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException or TimeoutException)
        {
        }
    }
}
