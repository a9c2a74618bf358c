namespace Echo.Core.Chat;

/// <summary>
/// <c>/me</c> actions ("* alice waves") on the wire. An action travels as ordinary text that any
/// reader can show, <c>* &lt;nick&gt; &lt;action&gt;</c>, plus a flag that readers which know it use
/// to show the action itself (<see cref="ChatMessage.Action"/>). Readers that ignore the flag show the
/// readable text, so the encoding needs nothing from them.
/// </summary>
public static class ChatAction
{
    /// <summary>The readable text of <paramref name="nick"/>'s action: <c>* nick action</c>.</summary>
    public static string Fallback(string nick, string action) => $"* {nick} {action}";

    /// <summary>
    /// The action inside <paramref name="text"/>, a message flagged as an action by <paramref name="nick"/>:
    /// the text after <c>"* nick "</c>; null when the text does not start so (then it is shown as
    /// plain text, as its author wrote it) or nothing follows.
    /// </summary>
    public static string? Open(string text, string? nick)
    {
        if (string.IsNullOrEmpty(nick))
            return null;
        string prefix = $"* {nick} ";
        return text.Length > prefix.Length && text.StartsWith(prefix, StringComparison.Ordinal) && !string.IsNullOrWhiteSpace(text[prefix.Length..])
            ? text[prefix.Length..]
            : null;
    }

    /// <summary>Null when <paramref name="nick"/>'s action fits a message, else why not (its readable text is what is counted).</summary>
    public static string? Check(string nick, string action) =>
        string.IsNullOrWhiteSpace(action) ? "the action is empty" : ChatLimits.CheckText(Fallback(nick, action));
}
