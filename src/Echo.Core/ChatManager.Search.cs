using System.Globalization;
using Echo.Core.Chat;
using Echo.Core.Events;
using Echo.Core.Ports;

namespace Echo.Core;

/// <summary>/search: the stored lines of a room that contain some text.</summary>
public sealed partial class ChatManager
{
    /// <summary>The most results one search returns (the newest ones).</summary>
    public const int MaxSearchResults = 200;

    /// <summary>
    /// Up to <paramref name="count"/> (at most <see cref="MaxSearchResults"/>) of the newest stored
    /// messages of <paramref name="room"/> containing <paramref name="text"/>, oldest first; empty
    /// without a store, for empty text, or when the store fails (which is logged).
    /// </summary>
    public async Task<IReadOnlyList<ChatMessage>> SearchAsync(string room, string text, int count,
        CancellationToken cancellationToken)
    {
        if (_store is null || text.Length == 0 || count <= 0)
            return [];
        try
        {
            IReadOnlyList<ChatMessage> found = await _store.SearchAsync(room, text, Math.Min(count, MaxSearchResults), cancellationToken)
                .ConfigureAwait(false);
            return [.. found.Select(m => m with { FromHistory = true })];
        }
        catch (MessageStoreException e)
        {
            Log.HistoryFailed(_logger, e.Message);
            return [];
        }
    }

    /// <summary>/search typed where no face shows results itself: they are told as a notice, one line each.</summary>
    private async Task SearchCommandAsync(string text, CancellationToken cancellationToken)
    {
        if (CurrentRoom is not { } room)
        {
            Publish(new ErrorEvent("not in a room: /join one to search its history"));
            return;
        }
        IReadOnlyList<ChatMessage> found = await SearchAsync(room, text, MaxSearchResults, cancellationToken).ConfigureAwait(false);
        Publish(new NoticeEvent(string.Join('\n',
            [SearchSummary(room, text, found.Count),
             .. found.Select(m => $"{m.Timestamp.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)} <{SafeText.ForDisplay(m.SenderLabel)}> {SafeText.ForDisplay(m.Text)}")])));
    }

    /// <summary>"3 lines in #ops contain "deploy"" (the first line of a search's answer).</summary>
    public static string SearchSummary(string room, string text, int found) =>
        found switch
        {
            0 => $"no line in #{SafeText.ForDisplay(room)} contains \"{SafeText.ForDisplay(text)}\"",
            1 => $"1 line in #{SafeText.ForDisplay(room)} contains \"{SafeText.ForDisplay(text)}\"",
            _ => $"{found} lines in #{SafeText.ForDisplay(room)} contain \"{SafeText.ForDisplay(text)}\"" +
                 (found >= MaxSearchResults ? " (the newest shown)" : ""),
        };
}
