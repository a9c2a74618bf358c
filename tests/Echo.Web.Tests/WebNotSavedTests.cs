using System.Text.Json;
using Echo.Core.Chat;
using Echo.Core.Direct;
using Echo.Core.Events;

namespace Echo.Web.Tests;

/// <summary>A message the store could not keep reaches the page with <c>notSaved</c>, which shows a "not saved" badge.</summary>
public sealed class WebNotSavedTests
{
    private static readonly DateTimeOffset At = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_123);

    private static JsonElement Parse(ChatEvent chatEvent) => JsonDocument.Parse(WebJson.Event(chatEvent)!).RootElement;

    [Fact]
    public void NotSaved_IsSent_OnlyWhenTrue()
    {
        ChatMessage message = new("m1", "lobby", "12D3KooWBob", "bob", "hi", At, MessageOrigin.Room);
        Assert.True(Parse(new MessageEvent(message with { NotSaved = true })).GetProperty("notSaved").GetBoolean());
        Assert.False(Parse(new MessageEvent(message)).TryGetProperty("notSaved", out _));
        DirectMessage direct = new("d1", "12D3KooWBob", "bob", "hi", At, Outgoing: false, Delivered: true);
        Assert.True(Parse(new DirectMessageEvent(direct with { NotSaved = true })).GetProperty("notSaved").GetBoolean());
        Assert.False(Parse(new DirectMessageEvent(direct)).TryGetProperty("notSaved", out _));
    }

    [Fact]
    public void NotSaved_Of_AnOwnDirectMessage_IsSent()
    {
        DirectMessage message = new("d2", "12D3KooWBob", "me", "hi", At, Outgoing: true, Delivered: false) { NotSaved = true };
        Assert.True(Parse(new DirectMessageEvent(message)).GetProperty("notSaved").GetBoolean());
    }
}
