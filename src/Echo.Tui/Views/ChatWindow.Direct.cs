using Echo.Core;
using Echo.Core.Chat;
using Echo.Core.Direct;
using Echo.Core.Events;
using Echo.Core.Files;
using Echo.Core.Peers;
using Echo.Tui.Rendering;

namespace Echo.Tui.Views;

/// <summary>
/// Direct conversations and file transfers on the chat screen. A conversation with a peer is an
/// entry "@nick" in the room list (its key is "@" and the peer id, which no room name can be);
/// what is typed there is sent with /msg. Downloads show their progress in the status line.
/// </summary>
internal sealed partial class ChatWindow
{
    private readonly Dictionary<string, string> _directNicks = new(StringComparer.Ordinal);
    private readonly HashSet<string> _queued = new(StringComparer.Ordinal);
    private readonly Dictionary<string, FileProgressEvent> _transfers = new(StringComparer.Ordinal);

    private static string ConversationKey(string peerId) => "@" + peerId;

    /// <summary>Shows a room or conversation; rooms the chat already has current are switched here only.</summary>
    private void Choose(string key)
    {
        if (key.StartsWith('@') || key == _manager.CurrentRoom)
            SwitchTo(key);
        else
            _manager.SwitchRoom(key);
    }

    private string NickOf(string peerId) =>
        _manager.LabelOf(peerId) ?? _directNicks.GetValueOrDefault(peerId) ?? PeerInfo.ShortPeerId(peerId);

    private string ConversationTitle(string key) =>
        key.StartsWith('@') ? "@" + SafeText.ForDisplay(NickOf(key[1..])) : "#" + SafeText.ForDisplay(key);

    /// <summary>In a conversation, typed text (not a command) is a direct message to its peer.</summary>
    private string ToConversation(string line)
    {
        if (_current is not { } key || !key.StartsWith('@'))
            return line;
        string trimmed = line.Trim();
        if (Echo.Core.Commands.CommandParser.Parse(trimmed) is Echo.Core.Commands.ChatCommand.Send { Target: null } send)
            return $"/send \"{send.Path}\" {key[1..]}";   // a file offered in a conversation goes to its peer
        if (Echo.Core.Commands.CommandParser.Parse(trimmed) is Echo.Core.Commands.ChatCommand.Me me)
            return DirectAction(key[1..], me.Action);     // never to a room: the readable "* nick action" to its peer
        if (trimmed.StartsWith('/') && !trimmed.StartsWith("//", StringComparison.Ordinal))
            return line;
        return $"/msg {key[1..]} {(trimmed.StartsWith("//", StringComparison.Ordinal) ? trimmed[1..] : trimmed)}";
    }

    private void ApplyDirect(ChatEvent chatEvent)
    {
        switch (chatEvent)
        {
            case DirectMessageEvent { Message: var message }:
                AddDirect(message);
                break;
            case DirectDeliveredEvent delivered:
                if (_queued.Remove(delivered.Id))
                    NoticeIn(ConversationKey(delivered.PeerId), "delivered");
                break;
            case FileOfferEvent offer:
                NoticeIn(offer.Room ?? ConversationKey(offer.FromPeerId),
                    $"{SafeText.ForDisplay(offer.FromNick)} offers {SafeText.ForDisplay(offer.Offer.Name)} " +
                    $"({ChatManager.FormatSize(offer.Offer.Size)}): /get {offer.Offer.Id}");
                break;
            case FileOfferedEvent offered:
                Notice($"offered {SafeText.ForDisplay(offered.Offer.Name)} ({ChatManager.FormatSize(offered.Offer.Size)}) " +
                       $"as {offered.Offer.Id}" + (offered.To is { } to ? $" to {SafeText.ForDisplay(NickOf(to))}" : ""));
                break;
            case FileProgressEvent progress:
                _transfers[progress.Id] = progress;
                ShowStatus();
                break;
            case FileResumedEvent resumed:
                Notice($"resuming {SafeText.ForDisplay(resumed.Name)} at {ChatManager.FormatSize(resumed.Offset)} of {ChatManager.FormatSize(resumed.Size)}");
                break;
            case FileDoneEvent done:
                _transfers.Remove(done.Id);
                Notice($"saved {SafeText.ForDisplay(done.Path)} (SHA-256 verified)");
                ShowStatus();
                break;
            case FileErrorEvent error:
                _transfers.Remove(error.Id);
                AddSystem(LineFormatter.Error(error.Message, _clock.GetUtcNow(), _clock.LocalTimeZone));
                ShowStatus();
                break;
        }
    }

    /// <summary>
    /// The conversations of earlier runs, from the history file (oldest first): listed and filled in,
    /// in their place in time, without counting as unread. UI thread only.
    /// </summary>
    public void LoadDirect(IReadOnlyList<DirectMessage> stored)
    {
        foreach (DirectMessage message in stored)
            AddDirect(message, fromStore: true);
    }

    private void AddDirect(DirectMessage message, bool fromStore = false)
    {
        string key = ConversationKey(message.PeerId);
        if (!message.Outgoing && ChatLimits.CheckNick(message.Nick) is null)
            _directNicks[message.PeerId] = message.Nick;
        if (!_rooms.Contains(key))
            _rooms.Add(key);
        AddMessage(new ChatMessage(message.Id, key, message.Outgoing ? _manager.LocalPeerId : message.PeerId, message.Nick,
            message.Text, message.Timestamp, message.Outgoing ? MessageOrigin.Local : MessageOrigin.Room)
        {
            FromHistory = fromStore,
            NotSaved = message.NotSaved,
        },
            countUnread: !fromStore);
        if (message.Outgoing && !message.Delivered && !_peers.Exists(p => p.PeerId == message.PeerId))
        {
            _queued.Add(message.Id);
            NoticeIn(key, $"{SafeText.ForDisplay(NickOf(message.PeerId))} is offline; sent when they connect");
        }
        ShowRooms();
    }

    private void NoticeIn(string key, string text)
    {
        foreach (DisplayLine line in LineFormatter.Notice(text, _clock.GetUtcNow(), _clock.LocalTimeZone))
            AddTo(key, line);
    }

    /// <summary>The running downloads for the status line: name, percentage, rate and time left.</summary>
    private IEnumerable<Span> TransferSpans()
    {
        foreach (FileProgressEvent p in _transfers.Values.Take(2))
        {
            string eta = p.Remaining is { } left ? $" {(int)left.TotalMinutes}:{left.Seconds:00} left" : "";
            string name = SafeText.ForDisplay(p.Name);
            if (name.Length > 24)
                name = name[..23] + "…";
            yield return new Span(" | ", Tone.Dim);
            yield return new Span($"↓ {name} {(p.Size > 0 ? 100.0 * p.Bytes / p.Size : 100):0}% " +
                                  $"{ChatManager.FormatSize(p.BytesPerSecond)}/s{eta}", Tone.Notice);
        }
    }
}
