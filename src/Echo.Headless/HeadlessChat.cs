using Echo.Core;
using Echo.Core.Commands;
using Echo.Core.Events;

namespace Echo.Headless;

/// <summary>
/// The chat without a screen, for bots, scripts and tests: each input line is sent to the current
/// room, or run as a command when it starts with '/'; the output carries one JSON object per line,
/// a <c>ready</c> line first. End of input (once the dials it asked for are done) or /quit ends it.
/// </summary>
public static class HeadlessChat
{
    /// <summary>
    /// Runs until input ends, /quit, or <paramref name="cancellationToken"/>. Pass a subscription
    /// taken before <see cref="ChatManager.StartAsync"/>, so no event is missed.
    /// </summary>
    public static async Task RunAsync(ChatManager manager, ChatSubscription subscription, TextReader input, TextWriter output,
        CancellationToken cancellationToken)
    {
        using CancellationTokenSource stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, manager.QuitRequested);
        await WriteLineAsync(output, HeadlessEventWriter.Ready(manager.LocalPeerId, manager.ListenAddresses)).ConfigureAwait(false);
        Task writer = WriteEventsAsync(subscription, output, stop.Token);
        BackgroundTasks dials = new();
        try
        {
            while (!stop.IsCancellationRequested)
            {
                // Console.In reads synchronously even through ReadLineAsync, and no console read
                // observes cancellation: read on the thread pool and stop waiting for it instead,
                // so that SIGTERM or Ctrl+C ends the chat while nothing is typed.
                string? line = await Task.Run(() => input.ReadLine(), CancellationToken.None).WaitAsync(stop.Token).ConfigureAwait(false);
                if (line is null)
                    break;
                // Lines run one after the other ("/join x" then "hi" says hi in x), but a /connect may
                // take the whole dial timeout: it runs beside them, as in the TUI.
                ChatCommand command = CommandParser.Parse(line);   // parsed once: the chat runs it as it is
                if (command is ChatCommand.Connect)
                    dials.Track(manager.RunAsync(command, stop.Token));
                else
                    await manager.RunAsync(command, stop.Token).ConfigureAwait(false);
            }
            // End of input: the dials still running report how they went before the chat ends.
            await Task.WhenAll(dials.Snapshot()).WaitAsync(stop.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        // Let what the last commands produced reach the output before the caller shuts the chat down.
        await stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(dials.Snapshot()).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await writer.ConfigureAwait(false);
        while (subscription.Events.TryRead(out ChatEvent? chatEvent))
        {
            if (HeadlessEventWriter.Format(chatEvent) is { } line)
                await WriteLineAsync(output, line).ConfigureAwait(false);
        }
    }

    private static async Task WriteEventsAsync(ChatSubscription subscription, TextWriter output, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (ChatEvent chatEvent in subscription.Events.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                if (HeadlessEventWriter.Format(chatEvent) is { } line)
                    await WriteLineAsync(output, line).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private static async Task WriteLineAsync(TextWriter output, string line)
    {
        await output.WriteLineAsync(line).ConfigureAwait(false);
        await output.FlushAsync().ConfigureAwait(false);
    }
}
