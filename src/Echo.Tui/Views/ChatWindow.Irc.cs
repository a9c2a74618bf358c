namespace Echo.Tui.Views;

/// <summary>/clear in the terminal (only this window's view of the conversation is emptied).</summary>
internal sealed partial class ChatWindow
{
    /// <summary>
    /// Empties the shown conversation (room or direct) in this window. The chat and its history keep
    /// every message; lines already seen do not come back, older ones still load on scrolling up. UI thread only.
    /// </summary>
    public void ClearConversation()
    {
        (_current is not null ? Buffer(_current) : _homeless).Clear();
        Show();
    }
}
