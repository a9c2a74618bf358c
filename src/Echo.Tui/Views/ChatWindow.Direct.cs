using Echo.Core;
using Echo.Core.Chat;
using Echo.Core.Conversations;
using Echo.Core.Direct;
using Echo.Core.Events;
using Echo.Core.Files;
using Echo.Core.Peers;
using Echo.Tui.Rendering;

namespace Echo.Tui.Views;

/// <summary>
/// Direct conversations and file transfers on the chat screen. A conversation with a peer is an
/// entry "@nick" in the room list; what is typed there goes to the chat with that conversation,
/// which sends text to the peer. Downloads show their progress in the status line.
/// </summary>
internal sealed partial class ChatWindow
{
    private readonly Dictionary<string, string> _directNicks = new(StringComparer.Ordinal);
    private readonly HashSet<string> _queued = new(StringComparer.Ordinal);
    private readonly Dictionary<string, FileProgressEvent> _transfers = new(StringComparer.Ordinal);

    /// <summary>Shows a room or conversation; rooms the chat already has current are switched here only.</summary>
    private void Choose(ConversationId conversation)
    {
        if (conversation.IsDirect || conversation.Name == _manager.CurrentRoom)
            SwitchTo(conversation);
        else
            _manager.SwitchRoom(conversation.Name);
    }

    private string NickOf(string peerId) =>
        _manager.LabelOf(peerId) ?? _directNicks.GetValueOrDefault(peerId) ?? PeerInfo.ShortPeerId(peerId);

    private string ConversationTitle(ConversationId conversation) =>
        conversation.PeerId is { } peerId ? "@" + SafeText.ForDisplay(NickOf(peerId)) : "#" + SafeText.ForDisplay(conversation.Name);

    private void ApplyDirect(ChatEvent chatEvent)
    {
        switch (chatEvent)
        {
            case DirectMessageEvent { Message: var message }:
                AddDirect(message);
                break;
            case DirectDeliveredEvent delivered:
                if (_queued.Remove(delivered.Id))
                    NoticeIn(ConversationId.Direct(delivered.PeerId), "delivered");
                break;
            case FileOfferEvent offer:
                NoticeIn(offer.Room is { } room ? ConversationId.Room(room) : ConversationId.Direct(offer.FromPeerId),
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
    /// The direct conversations Core holds (each oldest first, earlier runs' among them): listed and
    /// filled in, in their place in time, without counting as unread. UI thread only.
    /// </summary>
    public void LoadDirect(IReadOnlyList<DirectMessage> stored)
    {
        foreach (DirectMessage message in stored)
            AddDirect(message, fromStore: true);
    }

    private void AddDirect(DirectMessage message, bool fromStore = false)
    {
        ConversationId key = ConversationId.Direct(message.PeerId);
        if (!message.Outgoing && ChatLimits.CheckNick(message.Nick) is null)
            _directNicks[message.PeerId] = message.Nick;
        if (!_rooms.Contains(key))
            _rooms.Add(key);
        AddMessage(key, new ChatMessage(message.Id, key.Key, message.Outgoing ? _manager.LocalPeerId : message.PeerId, message.Nick,
            message.Text, message.Timestamp, message.Outgoing ? MessageOrigin.Local : MessageOrigin.Room)
        {
            FromHistory = fromStore,
            NotSaved = message.NotSaved,
            Action = message.Action,
        },
            countUnread: !fromStore);
        if (message.Outgoing && !message.Delivered && !_peers.Exists(p => p.PeerId == message.PeerId))
        {
            _queued.Add(message.Id);
            NoticeIn(key, $"{SafeText.ForDisplay(NickOf(message.PeerId))} is offline; sent when they connect");
        }
        ShowRooms();
    }

    private void NoticeIn(ConversationId key, string text)
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
