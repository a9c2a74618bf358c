using Echo.Core.Events;

namespace Echo.Core.Tests;

/// <summary>Waiting on a chat subscription, as every Core test does.</summary>
internal static class ChatEvents
{
    /// <summary>The next event of type <typeparamref name="T"/> (that <paramref name="match"/> accepts), skipping others; fails after <paramref name="timeout"/> (5 s).</summary>
    public static async Task<T> NextAsync<T>(this ChatSubscription events, Func<T, bool>? match = null, TimeSpan? timeout = null)
        where T : ChatEvent
    {
        using CancellationTokenSource limit = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        limit.CancelAfter(timeout ?? TimeSpan.FromSeconds(5));
        while (true)
        {
            if (await events.Events.ReadAsync(limit.Token) is T wanted && (match is null || match(wanted)))
                return wanted;
        }
    }
}
