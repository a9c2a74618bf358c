using Echo.Net.Host;
using Echo.Net.Identify;
using Echo.Net.Identity;
using Google.Protobuf;

namespace Echo.Net.Pubsub;

// The peers of the router: added when identify shows pubsub or a peer opens a stream to us, removed
// when the connection or our stream to it goes; the hand-over of their streams to PubsubPeerStreams;
// queueing what we send them.
public sealed partial class PubsubRouter
{
    private void OnPeerIdentified(Connection connection, IdentifyInfo info)
    {
        string[] supported = [.. Protocols.Where(info.Supports)];
        if (supported.Length == 0)
            return;
        // go and js run no pubsub over limited (relayed) connections; we do only with the peers the options name.
        if (connection.IsLimited && _options.RunOnLimited?.Invoke(info) != true)
            return;
        lock (_gate)
        {
            if (_disposed || connection.IsClosed)
                return;
            PubsubPeer peer = GetOrAddPeer(connection);
            EnsureOutbound(peer, supported);
        }
    }

    private void OnPeerDisconnected(Connection connection)
    {
        lock (_gate)
        {
            if (_peers.TryGetValue(connection.RemotePeer, out PubsubPeer? peer))
                RemovePeer(peer, "disconnected");
        }
    }

    /// <summary>The state of the peer on <paramref name="connection"/>, replacing one left from a closed connection.</summary>
    private PubsubPeer GetOrAddPeer(Connection connection)
    {
        PeerId id = connection.RemotePeer;
        string[] carried = [];
        if (_peers.TryGetValue(id, out PubsubPeer? existing))
        {
            // A connection that replaced a limited one (a direct one, or a newer circuit) takes over: the limited one is closing.
            if (existing.Connection == connection || (!existing.Connection.IsClosed && !(existing.Connection.IsLimited
                    && (!connection.IsLimited || _host.GetConnection(id) == connection))))
                return existing;
            // The peer (still connected: its last connection's end removes it) keeps its
            // subscriptions whatever connection carries them: kept, so that until it announces them
            // again on the new one it still counts as in its topics (a chat would otherwise take it
            // for a peer outside the room meanwhile).
            carried = [.. existing.Topics];
            RemovePeer(existing, "connection replaced", replaced: true);
        }
        PubsubPeer peer = new(id, connection, new PubsubPeerStreams(id, _options.MaxOutboundQueueLength, _options.MaxOutboundQueueBytes, _logger));
        _peers[id] = peer;
        _score.AddPeer(id);
        foreach (string topic in carried)
        {
            peer.Topics.Add(topic);
            if (!_topics.TryGetValue(topic, out HashSet<PeerId>? peers))
                _topics[topic] = peers = [];
            peers.Add(id);
        }
        if (_subscriptions.Count > 0)
        {
            Pb.RPC hello = new();
            foreach (string topic in _subscriptions.Keys)
                hello.Subscriptions.Add(new Pb.RPC.Types.SubOpts { Subscribe = true, Topicid = topic });
            Send(peer, hello.ToByteArray(), messages: 0);
        }
        Log.PeerAdded(_logger, id, connection.Direction);
        return peer;
    }

    private void RemovePeer(PubsubPeer peer, string reason, bool replaced = false)
    {
        if (peer.Removed)
            return;
        peer.Removed = true;
        peer.Replaced = replaced;
        if (_peers.TryGetValue(peer.Id, out PubsubPeer? current) && current == peer)
            _peers.Remove(peer.Id);
        foreach (string topic in peer.Topics)
            RemoveTopicPeer(topic, peer.Id);
        foreach (HashSet<PeerId> mesh in _mesh.Values)
            mesh.Remove(peer.Id);
        foreach (HashSet<PeerId> fanout in _fanout.Values)
            fanout.Remove(peer.Id);
        _score.RemovePeer(peer.Id);
        peer.Streams.CompleteQueue();
        peer.Streams.SignalRoom();
        // A replaced peer's stream to us is read to its end: what it wrote before it saw the new connection
        // (a room message sent during a hole punch) is still on its way over the old one, which stays
        // open for a grace period. Its RPCs count for the peer on the new connection (HandleRpc).
        if (!replaced)
            peer.Streams.Inbound?.Reset();
        Log.PeerRemoved(_logger, peer.Id, reason);
    }

    private void RemoveTopicPeer(string topic, PeerId peer)
    {
        if (_topics.TryGetValue(topic, out HashSet<PeerId>? peers) && peers.Remove(peer) && peers.Count == 0)
            _topics.Remove(topic);
    }

    private void EnsureOutbound(PubsubPeer peer, IReadOnlyList<string> protocols)
    {
        if (peer.Streams.Outbound is not null || peer.Streams.OpeningOutbound || peer.Removed)
            return;
        peer.Streams.OpeningOutbound = true;
        // Not awaited here: we hold the lock. Task.Run keeps the opening off this thread entirely.
        _background.Track(Task.Run(() => OpenOutboundAsync(peer, protocols)));
    }

    private async Task OpenOutboundAsync(PubsubPeer peer, IReadOnlyList<string> protocols)
    {
        P2PStream stream;
        try
        {
            stream = await peer.Connection.OpenStreamAsync(protocols, _stopping.Token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            if (e is not OperationCanceledException)
                Log.OutboundFailed(_logger, peer.Id, e.Message);
            lock (_gate)
            {
                peer.Streams.OpeningOutbound = false;
                // Without a stream to it the peer is no use; it may come back with a new inbound stream.
                if (!_disposed)
                    RemovePeer(peer, "no outbound stream");
            }
            return;
        }
        lock (_gate)
        {
            peer.Streams.OpeningOutbound = false;
            if (peer.Removed || _disposed)
            {
                stream.Reset();
                return;
            }
            peer.Streams.Outbound = stream;
            peer.Protocol = stream.Protocol;
            _background.Track(WriteAsync(peer, stream));
        }
        Log.OutboundOpened(_logger, peer.Id, stream.Protocol);
    }

    /// <summary>Runs the peer's write loop; when our stream to it fails, the peer goes.</summary>
    private async Task WriteAsync(PubsubPeer peer, P2PStream stream)
    {
        if (await peer.Streams.WriteAsync(stream, _stopping.Token).ConfigureAwait(false))
            return;
        lock (_gate)
        {
            if (!_disposed && peer.Streams.Outbound == stream)
                RemovePeer(peer, "outbound stream failed");
        }
    }

    private async Task HandleInboundStreamAsync(P2PStream stream, CancellationToken cancellationToken)
    {
        PubsubPeer peer;
        P2PStream? replaced;
        lock (_gate)
        {
            if (_disposed || stream.Connection.IsClosed)
            {
                stream.Reset();
                return;
            }
            peer = GetOrAddPeer(stream.Connection);
            replaced = peer.Streams.Inbound;
            peer.Streams.Inbound = stream;
            peer.InboundProtocol = stream.Protocol;
            // The peer speaks what it opened; answer with the same family (best first).
            EnsureOutbound(peer, stream.Protocol == FloodsubProtocol ? [FloodsubProtocol] : Protocols);
        }
        if (replaced is not null)
        {
            Log.InboundReplaced(_logger, peer.Id);
            replaced.Reset();
        }
        using CancellationTokenSource lifetime = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token);
        try
        {
            await peer.Streams.ReadAsync(stream, _options, async (rpc, token) =>
            {
                if (rpc.Messages.Count > 0)
                    await WaitForSubscribersAsync(rpc, token).ConfigureAwait(false);
                return HandleRpc(peer, rpc);
            }, lifetime.Token).ConfigureAwait(false);
        }
        finally
        {
            lock (_gate)
            {
                if (peer.Streams.Inbound == stream)
                    peer.Streams.Inbound = null;
            }
        }
    }

    /// <summary>
    /// Backpressure instead of loss: while a local subscription of a topic this RPC carries is a whole
    /// capacity behind, this peer's reader waits (and its stream's flow control slows the peer), so
    /// a flood costs its senders, not the messages.
    /// </summary>
    private async ValueTask WaitForSubscribersAsync(DecodedRpc rpc, CancellationToken cancellationToken)
    {
        string? last = null;
        foreach (Pb.Message message in rpc.Messages)
        {
            if (message.Topic == last)
                continue;
            last = message.Topic;
            while (FullSubscription(last) is { } full)
                await full.WaitForRoomAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private PubsubSubscription? FullSubscription(string topic)
    {
        lock (_gate)
        {
            if (_subscriptions.TryGetValue(topic, out List<PubsubSubscription>? subscriptions))
            {
                foreach (PubsubSubscription subscription in subscriptions)
                {
                    if (!subscription.HasRoom)
                        return subscription;
                }
            }
            return null;
        }
    }

    /// <summary>Queues <paramref name="rpc"/> to each peer as room appears, within one MaxPublishWait; returns how many took it.</summary>
    private async Task<int> SendWhenRoomAsync(List<PubsubPeer> peers, byte[] rpc, CancellationToken cancellationToken)
    {
        using CancellationTokenSource deadline = new(_options.MaxPublishWait, _time);
        using CancellationTokenSource bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token, deadline.Token);
        int sent = 0;
        foreach (PubsubPeer peer in peers)
        {
            while (true)
            {
                // Take the signal before trying, so that room made in between is not missed.
                Task room = peer.Streams.NextRoomAsync();
                lock (_gate)
                {
                    if (peer.Removed || _disposed)
                        break;
                    if (TrySend(peer, rpc, messages: 1))
                    {
                        sent++;
                        break;
                    }
                    if (bound.IsCancellationRequested)
                    {
                        if (!cancellationToken.IsCancellationRequested)
                        {
                            peer.Streams.Stalled = true;
                            Counters.PublishWaitsExpired++;
                        }
                        Dropped(peer);
                        break;
                    }
                }
                try
                {
                    await room.WaitAsync(bound.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    // Out of time (or cancelled): the next turn drops the message for this peer.
                }
            }
        }
        return sent;
    }

    /// <summary>Queues an RPC for the peer; false (and dropped) when its queue is full.</summary>
    private bool Send(PubsubPeer peer, byte[] rpc, int messages)
    {
        if (TrySend(peer, rpc, messages))
            return true;
        if (!peer.Removed)
            Dropped(peer);
        return false;
    }

    /// <summary>Queues <paramref name="rpc"/> to the peer; false when it is gone or its queue is full.</summary>
    private static bool TrySend(PubsubPeer peer, byte[] rpc, int messages)
    {
        if (peer.Removed || !peer.Streams.TryEnqueue(rpc))
            return false;
        Interlocked.Increment(ref peer.Counters.RpcsQueued);
        Interlocked.Add(ref peer.Counters.MessagesSent, messages);
        return true;
    }

    private void Dropped(PubsubPeer peer)
    {
        long dropped = Interlocked.Increment(ref peer.Counters.RpcsDropped);
        if (dropped == 1 || dropped % 1000 == 0)
            Log.QueueFull(_logger, peer.Id, dropped);
    }
}
