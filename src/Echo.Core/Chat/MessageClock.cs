namespace Echo.Core.Chat;

/// <summary>
/// Keeps an author's clock from deciding where a message is shown and sorted. A room message's
/// <see cref="ChatMessage.Timestamp"/> is the author's word; a wrong clock (or a hostile author)
/// could date it in year 2999 or 1970. A time more than <see cref="MaxAhead"/> after we received
/// it, or before <see cref="Floor"/>, is replaced by the time we received it and the message is
/// marked <see cref="ChatMessage.ClockClamped"/>. Older times after the floor are kept: history
/// sync legitimately brings messages written days before we receive them.
/// </summary>
public static class MessageClock
{
    /// <summary>How far after its arrival an author's time may lie (clock skew between honest peers).</summary>
    public static readonly TimeSpan MaxAhead = TimeSpan.FromMinutes(5);

    /// <summary>No Echo message was written before this (2020-01-01 UTC); an earlier time is a broken clock.</summary>
    public static readonly DateTimeOffset Floor = new(2020, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>True when <paramref name="timestamp"/> is a plausible author's time for a message received at <paramref name="received"/>.</summary>
    public static bool IsPlausible(DateTimeOffset timestamp, DateTimeOffset received) =>
        timestamp >= Floor && timestamp - received <= MaxAhead;

    /// <summary>
    /// <paramref name="message"/> as it is shown and stored: unchanged when its time is plausible,
    /// otherwise dated <paramref name="received"/> and marked <see cref="ChatMessage.ClockClamped"/>.
    /// </summary>
    public static ChatMessage Clamp(ChatMessage message, DateTimeOffset received) =>
        IsPlausible(message.Timestamp, received) ? message : message with { Timestamp = received, ClockClamped = true };
}
