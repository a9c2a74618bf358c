using Echo.Core;
using Echo.Core.Events;

namespace Echo.Protocols.Tests;

/// <summary>Keeps what a chat manager reported to one subscription and waits, bounded, for an event of a kind.</summary>
internal sealed class ChatEventRecorder(ChatSubscription feed) : IDisposable
{
    private readonly List<ChatEvent> _seen = [];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Every event so far, oldest first.</summary>
    public IReadOnlyList<ChatEvent> Seen
    {
        get
        {
            while (feed.Events.TryRead(out ChatEvent? e))
                _seen.Add(e);
            return [.. _seen];
        }
    }

    /// <summary>The first event of type <typeparamref name="T"/> (matching, if given) seen or to come within <see cref="TestNetworks.Wait"/>.</summary>
    public async Task<T> EventAsync<T>(Func<T, bool>? match = null) where T : ChatEvent
    {
        if (Seen.OfType<T>().FirstOrDefault(e => match is null || match(e)) is { } seen)
            return seen;
        using CancellationTokenSource deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(TestNetworks.Wait);
        try
        {
            while (true)
            {
                ChatEvent e = await feed.Events.ReadAsync(deadline.Token);
                _seen.Add(e);
                if (e is T found && (match is null || match(found)))
                    return found;
            }
        }
        catch (OperationCanceledException) when (!Ct.IsCancellationRequested)
        {
            Assert.Fail($"no {typeof(T).Name} within {TestNetworks.Wait.TotalSeconds} s; seen: {string.Join(", ", _seen)}");
            throw;
        }
    }

    public void Dispose() => feed.Dispose();
}
