namespace Echo.Tui.Activity;

/// <summary>How much a conversation asks for attention, least first.</summary>
internal enum ActivityLevel
{
    /// <summary>Nothing unseen.</summary>
    None,

    /// <summary>Notices only (joins, errors).</summary>
    Notice,

    /// <summary>Messages not yet seen.</summary>
    Message,

    /// <summary>A direct message not yet seen.</summary>
    Direct,

    /// <summary>A line that mentions you, not yet seen.</summary>
    Mention,
}

/// <summary>What is unseen in one conversation.</summary>
/// <param name="Unread">Messages not yet seen.</param>
/// <param name="Mentions">Of those, the ones that mention you.</param>
/// <param name="Level">The highest level among them.</param>
internal readonly record struct ConversationActivity(int Unread, int Mentions, ActivityLevel Level);

/// <summary>
/// Unseen activity per conversation (weechat's hotlist, irssi's Act:): counts messages, mentions
/// and direct messages in conversations other than the one shown, and tells whether a new line
/// should ring the bell. Pure bookkeeping; the window draws it.
/// </summary>
internal sealed class ActivityTracker
{
    private readonly Dictionary<string, ConversationActivity> _unseen = new(StringComparer.Ordinal);

    /// <summary>Conversations with something unseen.</summary>
    public IReadOnlyDictionary<string, ConversationActivity> Unseen => _unseen;

    /// <summary>Unseen mentions and direct messages over all conversations: the count in the terminal title.</summary>
    public int Important => _unseen.Values.Sum(a => a.Level == ActivityLevel.Direct ? a.Unread : a.Mentions);

    /// <summary>
    /// Records a line in <paramref name="conversation"/>; <paramref name="shown"/> when it is the
    /// conversation on screen. Returns the line's level (Mention or Direct ring the bell).
    /// </summary>
    public ActivityLevel Add(string conversation, bool shown, bool isMessage, bool direct, bool mention)
    {
        ActivityLevel level = !isMessage ? ActivityLevel.Notice
            : mention ? ActivityLevel.Mention
            : direct ? ActivityLevel.Direct
            : ActivityLevel.Message;
        if (shown)
            return level;
        ConversationActivity now = _unseen.GetValueOrDefault(conversation);
        _unseen[conversation] = new ConversationActivity(
            now.Unread + (isMessage ? 1 : 0),
            now.Mentions + (mention ? 1 : 0),
            level > now.Level ? level : now.Level);
        return level;
    }

    /// <summary>The conversation is on screen: nothing in it is unseen any more.</summary>
    public void Seen(string conversation) => _unseen.Remove(conversation);

    /// <summary>The conversation is gone (left, closed).</summary>
    public void Forget(string conversation) => _unseen.Remove(conversation);

    /// <summary>The terminal title: "echo: #room", with "[n] " first while n mentions or direct messages are unseen.</summary>
    public string Title(string shown) => Important > 0 ? $"[{Important}] echo: {shown}" : $"echo: {shown}";
}
