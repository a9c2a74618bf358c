using Echo.Net.Identity;
using Echo.Net.Pubsub;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Net.Tests.Pubsub;

/// <summary>One peer's outbound queue without a router or a stream: its two bounds and the room signal.</summary>
public class PubsubPeerStreamsTests
{
    private static readonly PeerId A = KeyPair.Generate().PeerId;

    [Fact]
    public void TryEnqueue_RefusesPastTheByteBound_AndCountsTheBytes()
    {
        PubsubPeerStreams streams = new(A, maxQueueLength: 16, maxQueueBytes: 100, NullLogger.Instance);
        Assert.True(streams.TryEnqueue(new byte[60]));
        Assert.False(streams.TryEnqueue(new byte[41]));
        Assert.True(streams.TryEnqueue(new byte[40]));
        Assert.Equal(100, streams.QueuedBytes);
    }

    [Fact]
    public void TryEnqueue_RefusesPastTheLengthBound_AndAfterCompletion()
    {
        PubsubPeerStreams streams = new(A, maxQueueLength: 16, maxQueueBytes: 1 << 20, NullLogger.Instance);
        for (int i = 0; i < 16; i++)
            Assert.True(streams.TryEnqueue([1]));
        Assert.False(streams.TryEnqueue([1]));
        Assert.Equal(16, streams.QueuedBytes);

        PubsubPeerStreams done = new(A, maxQueueLength: 16, maxQueueBytes: 1 << 20, NullLogger.Instance);
        done.CompleteQueue();
        Assert.False(done.TryEnqueue([1]));
        Assert.Equal(0, done.QueuedBytes);
    }

    [Fact]
    public void SignalRoom_WakesTheWaiters_AndClearsStalled()
    {
        PubsubPeerStreams streams = new(A, maxQueueLength: 16, maxQueueBytes: 1 << 20, NullLogger.Instance);
        Task room = streams.NextRoomAsync();
        Assert.Same(room, streams.NextRoomAsync());                 // one signal for every waiter
        streams.Stalled = true;
        Assert.False(room.IsCompleted);
        streams.SignalRoom();
        Assert.True(room.IsCompletedSuccessfully);
        Assert.False(streams.Stalled);
        Assert.False(streams.NextRoomAsync().IsCompleted);           // the next wait is for the next room
    }
}
