using Echo.Core;

namespace Echo.Tui;

/// <summary>The terminal chat UI over a started <see cref="ChatManager"/>.</summary>
public static class ChatTui
{
    /// <summary>
    /// Takes over the terminal and runs the chat UI until the user quits (/quit, Ctrl+Q, Ctrl+C),
    /// the chat quits, or <paramref name="cancellationToken"/> fires; then gives the terminal back.
    /// The UI runs on its own thread; the returned task completes when it has ended.
    /// </summary>
    public static Task RunAsync(ChatManager manager, CancellationToken cancellationToken) =>
        RunAsync(manager, new ChatTuiOptions(), cancellationToken);

    /// <inheritdoc cref="RunAsync(ChatManager, CancellationToken)"/>
    public static async Task RunAsync(ChatManager manager, ChatTuiOptions options, CancellationToken cancellationToken)
    {
        options.Validate();
        using ChatSession session = new(manager, options);
        await session.RunAsync(cancellationToken).ConfigureAwait(false);
    }
}
