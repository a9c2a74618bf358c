using Echo.Net.Identity;

namespace Echo.Net.Pubsub;

// The control messages of gossipsub v1.1/v1.2 (IHAVE, IWANT, GRAFT, PRUNE, IDONTWANT), received as
// ControlMessage records and answered with them. Called under the router's lock; they share its mesh.
public sealed partial class PubsubRouter
{
    /// <summary>PX candidates remembered (we record them; dialing them is left to the application).</summary>
    private const int MaxPxCandidates = 64;

    private void HandleControl(PubsubPeer peer, ControlMessage control)
    {
        double score = _score.Score(peer.Id);
        List<ReadOnlyMemory<byte>>? iwant = score >= _scoreOptions.GossipThreshold ? HandleIHave(peer, control.IHaves) : null;
        List<byte[]>? answers = score >= _scoreOptions.GossipThreshold ? HandleIWant(peer, control.IWants) : null;
        List<Prune>? prunes = HandleGraft(peer, control.Grafts);
        HandlePrune(peer, control.Prunes, score);
        HandleIDontWant(peer, control.IDontWants);

        if (iwant is { Count: > 0 })
            Send(peer, new ControlMessage { IWants = [new IWant(iwant)] }.ToRpc(), messages: 0);
        if (prunes is { Count: > 0 })
            Send(peer, new ControlMessage { Prunes = prunes }.ToRpc(), messages: 0);
        if (answers is { Count: > 0 })
        {
            // Split the answers so that no RPC exceeds the frame limit.
            List<byte[]> batch = [];
            int size = 0;
            foreach (byte[] encoded in answers)
            {
                if (batch.Count > 0 && size + encoded.Length + 16 > PubsubRpcCodec.MaxRpcSize)
                {
                    Send(peer, PubsubRpcCodec.EncodePublish(batch), batch.Count);
                    batch = [];
                    size = 0;
                }
                batch.Add(encoded);
                size += encoded.Length + 16;
            }
            Send(peer, PubsubRpcCodec.EncodePublish(batch), batch.Count);
            Counters.IWantAnswered += answers.Count;
        }
    }

    /// <summary>An id from the wire we look at: neither empty nor longer than <see cref="MessageId.MaxLength"/>.</summary>
    private static bool IsUsableId(ReadOnlyMemory<byte> id) => id.Length is > 0 and <= MessageId.MaxLength;

    /// <summary>IHAVE: ask (IWANT) for unseen ids of mesh topics, within the per-heartbeat limits.</summary>
    private List<ReadOnlyMemory<byte>>? HandleIHave(PubsubPeer peer, IReadOnlyList<IHave> ihaves)
    {
        if (ihaves.Count == 0)
            return null;
        List<ReadOnlyMemory<byte>> wanted = [];
        HashSet<MessageId> unique = [];
        foreach (IHave ihave in ihaves)
        {
            if (++peer.IHaveMessages > _options.MaxIHaveMessages)
            {
                Log.IHaveOverLimit(_logger, peer.Id, _options.MaxIHaveMessages);
                break;
            }
            if (peer.IHaveIdsAsked >= _options.MaxIHaveLength)
                break;
            if (ihave.Topic is not { } topic || !_mesh.ContainsKey(topic))
                continue;
            foreach (ReadOnlyMemory<byte> bytes in ihave.Ids)
            {
                if (!IsUsableId(bytes))
                    continue;
                MessageId id = new(bytes.ToArray());
                if (!_seenIds.Contains(id) && unique.Add(id))
                    wanted.Add(bytes);
            }
        }
        int room = _options.MaxIHaveLength - peer.IHaveIdsAsked;
        if (wanted.Count == 0 || room <= 0)
            return null;
        Shuffle(wanted);
        if (wanted.Count > room)
            wanted.RemoveRange(room, wanted.Count - room);
        peer.IHaveIdsAsked += wanted.Count;
        // Track one random id of the batch: if nobody delivers it in time, the advertiser is penalised.
        MessageId promised = new(wanted[_random.Next(wanted.Count)].ToArray());
        _promises.Add(promised, peer.Id, _time.GetUtcNow() + _options.IWantFollowupTime);
        Counters.IWantSent++;
        return wanted;
    }

    /// <summary>IWANT: the cached messages asked for, each at most GossipRetransmission times per peer.</summary>
    private List<byte[]>? HandleIWant(PubsubPeer peer, IReadOnlyList<IWant> iwants)
    {
        if (iwants.Count == 0)
            return null;
        List<byte[]> answers = [];
        int considered = 0;
        foreach (IWant iwant in iwants)
        {
            foreach (ReadOnlyMemory<byte> bytes in iwant.Ids)
            {
                if (++considered > _options.MaxIWantIds)
                    return answers;
                if (!IsUsableId(bytes))
                    continue;
                if (_mcache.GetForPeer(new MessageId(bytes.ToArray()), peer.Id, _options.GossipRetransmission) is { } message)
                    answers.Add(message.Encoded);
            }
        }
        return answers;
    }

    /// <summary>GRAFT: join the peer to our mesh, or answer PRUNE (backoff, negative score, full mesh).</summary>
    private List<Prune>? HandleGraft(PubsubPeer peer, IReadOnlyList<Graft> grafts)
    {
        List<Prune>? prunes = null;
        DateTimeOffset now = _time.GetUtcNow();
        foreach (Graft graft in grafts)
        {
            // Unknown or unsubscribed topic: ignored, so spam GRAFTs cost no PRUNE (v1.1 spam protection).
            if (graft.Topic is not { } topic || !_mesh.TryGetValue(topic, out HashSet<PeerId>? mesh))
                continue;
            if (mesh.Contains(peer.Id))
                continue;
            if (_backoffs.IsActive(peer.Id, topic, out DateTimeOffset until))
            {
                // Grafting back during the backoff costs a behaviour penalty, twice when very early.
                _score.AddPenalty(peer.Id, 1);
                if (until - _options.PruneBackoff + _options.GraftFloodThreshold > now)
                    _score.AddPenalty(peer.Id, 1);
                Log.GraftDuringBackoff(_logger, peer.Id, topic);
                _backoffs.Add(peer.Id, topic, _options.PruneBackoff);
                (prunes ??= []).Add(PruneFor(peer, topic, _options.PruneBackoff));
                continue;
            }
            if (_score.Score(peer.Id) < 0 || (mesh.Count >= _options.DHi && !peer.IsOutbound))
            {
                _backoffs.Add(peer.Id, topic, _options.PruneBackoff);
                (prunes ??= []).Add(PruneFor(peer, topic, _options.PruneBackoff));
                continue;
            }
            mesh.Add(peer.Id);
            _score.Graft(peer.Id, topic);
            Log.Grafted(_logger, peer.Id, topic, "their GRAFT");
            OfferRecent(peer, topic);
        }
        return prunes;
    }

    /// <summary>PRUNE: leave the peer's mesh, honour its backoff (saturated and capped), record PX.</summary>
    private void HandlePrune(PubsubPeer peer, IReadOnlyList<Prune> prunes, double score)
    {
        foreach (Prune prune in prunes)
        {
            if (prune.Topic is not { } topic || !_mesh.TryGetValue(topic, out HashSet<PeerId>? mesh))
                continue;
            if (mesh.Remove(peer.Id))
                _score.Prune(peer.Id, topic);
            TimeSpan backoff = prune.BackoffSeconds is ulong seconds and > 0 ? _backoffs.FromWireSeconds(seconds) : _options.PruneBackoff;
            _backoffs.Add(peer.Id, topic, backoff);
            if (prune.Px.Count > 0 && score >= _scoreOptions.AcceptPxThreshold)
                RecordPx(prune.Px);
            Log.PrunedBy(_logger, peer.Id, topic, backoff.TotalSeconds);
        }
    }

    private void RecordPx(IReadOnlyList<ReadOnlyMemory<byte>> px)
    {
        int taken = 0;
        foreach (ReadOnlyMemory<byte> bytes in px)
        {
            if (taken >= _options.MaxPxPeers)
                break;
            taken++;
            if (!PeerId.TryFromBytes(bytes.Span, out PeerId? id) || id is null || id == _host.PeerId)
                continue;
            if (_pxCandidates.Contains(id))
                continue;
            if (_pxCandidates.Count >= MaxPxCandidates)
                _pxCandidates.RemoveAt(0);
            _pxCandidates.Add(id);
        }
    }

    private void HandleIDontWant(PubsubPeer peer, IReadOnlyList<IDontWant> idontwants)
    {
        foreach (IDontWant idontwant in idontwants)
        {
            foreach (ReadOnlyMemory<byte> bytes in idontwant.Ids)
            {
                if (peer.IDontWantIds >= _options.MaxIDontWantIds)
                    return;
                peer.IDontWantIds++;
                if (!IsUsableId(bytes))
                    continue;
                peer.DontSend[new MessageId(bytes.ToArray())] = _heartbeats;
            }
        }
    }

    /// <summary>A PRUNE for <paramref name="peer"/>; the backoff goes only to peers that understand it.</summary>
    private static Prune PruneFor(PubsubPeer peer, string topic, TimeSpan backoff) =>
        new(topic, peer.SupportsBackoff ? (ulong)backoff.TotalSeconds : null, []);

    /// <summary>IDONTWANT to our mesh peers of the topic that speak meshsub 1.2, except the one it came from.</summary>
    private void SendIDontWant(string topic, MessageId id, PeerId source)
    {
        if (!_mesh.TryGetValue(topic, out HashSet<PeerId>? mesh))
            return;
        byte[]? rpc = null;
        foreach (PeerId peerId in mesh)
        {
            if (peerId == source || !_peers.TryGetValue(peerId, out PubsubPeer? peer) || !peer.SupportsIDontWant)
                continue;
            rpc ??= new ControlMessage { IDontWants = [new IDontWant([id.Bytes])] }.ToRpc();
            Send(peer, rpc, messages: 0);
        }
    }
}
