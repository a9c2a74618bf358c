using Echo.Net.Identity;

namespace Echo.Net.Pubsub;

// The heartbeat: mesh upkeep (D_lo..D_hi, D_score, D_out, opportunistic grafting), fanout upkeep, IHAVE
// gossip, the expiry of IDONTWANTs, promises and backoffs; also the choice of targets for what we forward
// and publish. It runs under the router's lock and shares the mesh with the control handlers.
public sealed partial class PubsubRouter
{
    /// <summary>IDONTWANT entries are kept this many heartbeats (go keeps them 3).</summary>
    private const int DontSendHeartbeats = 3;

    /// <summary>One heartbeat (gossipsub-v1.0.md "Heartbeat" with the v1.1 changes); the timer calls it.</summary>
    internal void Heartbeat()
    {
        try
        {
            lock (_gate)
            {
                if (_disposed)
                    return;
                HeartbeatLocked();
            }
        }
        catch (Exception e)
        {
            Log.HeartbeatFailed(_logger, e);
        }
    }

    private void HeartbeatLocked()
    {
        long tick = ++_heartbeats;
        DateTimeOffset now = _time.GetUtcNow();
        Counters.Heartbeats++;
        foreach (PubsubPeer peer in _peers.Values)
        {
            peer.IHaveMessages = 0;
            peer.IHaveIdsAsked = 0;
            peer.IDontWantIds = 0;
            if (peer.DontSend.Count > 0)
            {
                foreach ((MessageId id, long at) in peer.DontSend.ToArray())
                {
                    if (tick - at >= DontSendHeartbeats)
                        peer.DontSend.Remove(id);
                }
            }
        }
        ApplyBrokenPromises(now);

        Dictionary<PeerId, List<Graft>> grafts = [];
        Dictionary<PeerId, List<Prune>> prunes = [];
        Dictionary<PeerId, List<byte[]>> gossip = [];                // encoded IHAVE RPCs, one per topic

        foreach ((string topic, HashSet<PeerId> mesh) in _mesh)
        {
            // Peers with a negative score leave every mesh.
            foreach (PeerId id in mesh.ToArray())
            {
                if (!_peers.ContainsKey(id))
                    mesh.Remove(id);
                else if (_score.Score(id) < 0)
                    PruneFromMesh(topic, mesh, id, prunes);
            }
            if (mesh.Count < _options.DLo)
            {
                foreach (PeerId id in Sample(MeshCandidates(topic, mesh), _options.D - mesh.Count))
                    GraftToMesh(topic, mesh, id, grafts);
            }
            if (mesh.Count > _options.DHi)
                ShrinkMesh(topic, mesh, prunes);
            if (mesh.Count >= _options.DLo)
            {
                int outbound = mesh.Count(id => _peers.TryGetValue(id, out PubsubPeer? p) && p.IsOutbound);
                if (outbound < _options.DOut)
                {
                    foreach (PeerId id in Sample(MeshCandidates(topic, mesh).Where(id => _peers[id].IsOutbound), _options.DOut - outbound))
                        GraftToMesh(topic, mesh, id, grafts);
                }
            }
            if (tick % _options.OpportunisticGraftTicks == 0 && mesh.Count > 1)
                OpportunisticGraft(topic, mesh, grafts);
            EmitGossip(topic, mesh, gossip);
        }

        foreach (string topic in _fanout.Keys.ToArray())
        {
            HashSet<PeerId> fanout = _fanout[topic];
            if (_fanoutPublished.GetValueOrDefault(topic) + _options.FanoutTtl < now)
            {
                _fanout.Remove(topic);
                _fanoutPublished.Remove(topic);
                continue;
            }
            HashSet<PeerId> subscribers = _topics.GetValueOrDefault(topic) ?? [];
            fanout.RemoveWhere(id => !subscribers.Contains(id) || _score.Score(id) < _scoreOptions.PublishThreshold);
            if (fanout.Count < _options.D)
            {
                fanout.UnionWith(Sample(subscribers.Where(id => !fanout.Contains(id) && IsMeshCandidate(id, _scoreOptions.PublishThreshold)),
                    _options.D - fanout.Count));
            }
            EmitGossip(topic, fanout, gossip);
        }

        foreach (PeerId id in grafts.Keys.Union(prunes.Keys).Union(gossip.Keys))
        {
            if (!_peers.TryGetValue(id, out PubsubPeer? peer))
                continue;
            ControlMessage control = new()
            {
                Grafts = grafts.GetValueOrDefault(id) ?? [],
                Prunes = prunes.GetValueOrDefault(id) ?? [],
            };
            if (control.Grafts.Count + control.Prunes.Count > 0)
                Send(peer, control.ToRpc(), messages: 0);
            // A peer grafted now got none of what we forwarded while it was subscribed but outside the
            // mesh, and gossip skips mesh peers: offer it the window, as when its subscription arrived.
            foreach (Graft graft in control.Grafts)
                OfferRecent(peer, graft.Topic!);
            // Each IHAVE in its own RPC keeps every control section under the receivers' size limit.
            if (gossip.TryGetValue(id, out List<byte[]>? ihaves))
            {
                foreach (byte[] ihave in ihaves)
                    Send(peer, ihave, messages: 0);
            }
        }

        _mcache.Shift();
        _score.Decay();
        _seen.Sweep();
        _seenIds.Sweep();
        _backoffs.Sweep();
    }

    private void ApplyBrokenPromises(DateTimeOffset now)
    {
        if (_promises.TakeBroken(now) is not { } broken)
            return;
        foreach (PeerId peer in broken)
        {
            _score.AddPenalty(peer, 1);
            Counters.BrokenPromises++;
            Log.BrokenPromise(_logger, peer);
        }
    }

    private void ShrinkMesh(string topic, HashSet<PeerId> mesh, Dictionary<PeerId, List<Prune>> prunes)
    {
        // Keep the D_score best, then random ones up to D, then make sure D_out of them are outbound.
        List<PeerId> byScore = [.. mesh];
        Shuffle(byScore);
        byScore.Sort((a, b) => _score.Score(b).CompareTo(_score.Score(a)));
        List<PeerId> keep = byScore.Take(_options.DScore).ToList();
        List<PeerId> rest = byScore.Skip(_options.DScore).ToList();
        Shuffle(rest);
        keep.AddRange(rest.Take(_options.D - keep.Count));
        List<PeerId> dropped = rest.Skip(_options.D - _options.DScore).ToList();
        int outbound = keep.Count(id => _peers[id].IsOutbound);
        if (outbound < _options.DOut)
        {
            List<PeerId> outboundDropped = dropped.Where(id => _peers[id].IsOutbound).ToList();
            for (int i = keep.Count - 1; i >= _options.DScore && outbound < _options.DOut && outboundDropped.Count > 0; i--)
            {
                if (_peers[keep[i]].IsOutbound)
                    continue;
                PeerId swapped = outboundDropped[^1];
                outboundDropped.RemoveAt(outboundDropped.Count - 1);
                dropped.Remove(swapped);
                dropped.Add(keep[i]);
                keep[i] = swapped;
                outbound++;
            }
        }
        foreach (PeerId id in dropped)
            PruneFromMesh(topic, mesh, id, prunes);
    }

    private void OpportunisticGraft(string topic, HashSet<PeerId> mesh, Dictionary<PeerId, List<Graft>> grafts)
    {
        List<double> scores = mesh.Select(_score.Score).Order().ToList();
        double median = scores[scores.Count / 2];
        if (median >= _scoreOptions.OpportunisticGraftThreshold)
            return;
        foreach (PeerId id in Sample(MeshCandidates(topic, mesh).Where(id => _score.Score(id) > median), _options.OpportunisticGraftPeers))
            GraftToMesh(topic, mesh, id, grafts);
    }

    /// <summary>
    /// A peer just subscribed to a topic we are in, or just joined our mesh for it: what was published
    /// or forwarded here in the moments before went past it (a message sent right after connecting,
    /// say, or one forwarded while it was subscribed but not yet in the mesh). Offer it the ids still
    /// in the gossip window, as IHAVE; it asks for the ones it lacks.
    /// </summary>
    private void OfferRecent(PubsubPeer peer, string topic)
    {
        if (peer.IsFloodsub || !_mesh.ContainsKey(topic) || _score.Score(peer.Id) < _scoreOptions.GossipThreshold)
            return;
        // Over a circuit with a small data limit, the peer is not offered what it wrote or sent us: it has those.
        PeerId? has = _host.GetConnection(peer.Id) is { HasSmallDataLimit: true } ? peer.Id : null;
        if (GossipIHave(topic, has) is { } ihave)
        {
            Send(peer, new ControlMessage { IHaves = [ihave] }.ToRpc(), messages: 0);
            Counters.RecentOffered++;
        }
    }

    /// <summary>
    /// An IHAVE with the topic's ids in the gossip window (shuffled, within the size limits), or null when
    /// there are none; without the messages <paramref name="has"/> wrote or sent us, when given.
    /// </summary>
    private IHave? GossipIHave(string topic, PeerId? has = null)
    {
        List<MessageId> ids = _mcache.GossipIds(topic);
        if (has is not null)
            ids.RemoveAll(id => _mcache.Get(id) is { } m && (m.From == has || m.ReceivedFrom == has));
        if (ids.Count == 0)
            return null;
        Shuffle(ids);
        // Within MaxIHaveLength ids and the control-section budget (each id costs its bytes + 2).
        int budget = _options.MaxControlBytes - 64 - topic.Length * 3;
        List<ReadOnlyMemory<byte>> offered = [];
        foreach (MessageId id in ids)
        {
            budget -= id.Span.Length + 2;
            if (budget < 0 || offered.Count >= _options.MaxIHaveLength)
                break;
            offered.Add(id.Bytes);
        }
        return new IHave(topic, offered);
    }

    private void EmitGossip(string topic, HashSet<PeerId> exclude, Dictionary<PeerId, List<byte[]>> gossip)
    {
        if (!_topics.TryGetValue(topic, out HashSet<PeerId>? subscribers))
            return;
        List<PeerId> candidates = subscribers.Where(id => !exclude.Contains(id) && _peers.TryGetValue(id, out PubsubPeer? p)
            && !p.IsFloodsub && _score.Score(id) >= _scoreOptions.GossipThreshold).ToList();
        if (candidates.Count == 0 || GossipIHave(topic) is not { } ihave)
            return;
        byte[] rpc = new ControlMessage { IHaves = [ihave] }.ToRpc();    // encoded once for every target
        int target = Math.Max(_options.DLazy, (int)(_options.GossipFactor * candidates.Count));
        foreach (PeerId id in Sample(candidates, target))
        {
            if (!gossip.TryGetValue(id, out List<byte[]>? list))
                gossip[id] = list = [];
            list.Add(rpc);
        }
    }

    private void GraftToMesh(string topic, HashSet<PeerId> mesh, PeerId id, Dictionary<PeerId, List<Graft>> grafts)
    {
        if (!mesh.Add(id))
            return;
        _score.Graft(id, topic);
        if (!grafts.TryGetValue(id, out List<Graft>? list))
            grafts[id] = list = [];
        list.Add(new Graft(topic));
        Log.Grafted(_logger, id, topic, "heartbeat");
    }

    private void PruneFromMesh(string topic, HashSet<PeerId> mesh, PeerId id, Dictionary<PeerId, List<Prune>> prunes)
    {
        if (!mesh.Remove(id))
            return;
        _score.Prune(id, topic);
        _backoffs.Add(id, topic, _options.PruneBackoff);
        if (!_peers.TryGetValue(id, out PubsubPeer? peer))
            return;
        if (!prunes.TryGetValue(id, out List<Prune>? list))
            prunes[id] = list = [];
        list.Add(PruneFor(peer, topic, _options.PruneBackoff));
        Log.Pruned(_logger, id, topic);
    }

    private IEnumerable<PeerId> MeshCandidates(string topic, HashSet<PeerId> mesh) =>
        (_topics.GetValueOrDefault(topic) ?? []).Where(id => !mesh.Contains(id) && IsMeshCandidate(id, 0) && !_backoffs.HoldsOurGraft(id, topic));

    private bool IsMeshCandidate(PeerId id, double minScore) =>
        _peers.TryGetValue(id, out PubsubPeer? peer) && !peer.IsFloodsub && _score.Score(id) >= minScore;

    /// <summary>Who gets a message we forward: our mesh of the topic and its floodsub peers.</summary>
    private IEnumerable<PubsubPeer> ForwardTargets(string topic)
    {
        if (_mesh.TryGetValue(topic, out HashSet<PeerId>? mesh))
        {
            foreach (PeerId id in mesh)
            {
                if (_peers.TryGetValue(id, out PubsubPeer? peer))
                    yield return peer;
            }
        }
        // Floodsub peers get every message of their topics (gossipsub-v1.0.md "Message Processing").
        if (_topics.TryGetValue(topic, out HashSet<PeerId>? subscribers))
        {
            foreach (PeerId id in subscribers)
            {
                if (_peers.TryGetValue(id, out PubsubPeer? peer) && peer.IsFloodsub)
                    yield return peer;
            }
        }
    }

    /// <summary>Who gets a message we publish: every topic peer above the publish threshold (flood publish), else the mesh or the fanout.</summary>
    private List<PubsubPeer> PublishTargets(string topic)
    {
        List<PubsubPeer> targets = [];
        HashSet<PeerId> subscribers = _topics.GetValueOrDefault(topic) ?? [];
        if (_options.FloodPublish)
        {
            foreach (PeerId id in subscribers)
            {
                if (_peers.TryGetValue(id, out PubsubPeer? peer) && (peer.IsFloodsub || _score.Score(id) >= _scoreOptions.PublishThreshold))
                    targets.Add(peer);
            }
            return targets;
        }
        HashSet<PeerId> chosen = [];
        if (_mesh.TryGetValue(topic, out HashSet<PeerId>? mesh))
            chosen.UnionWith(mesh);
        else
        {
            if (!_fanout.TryGetValue(topic, out HashSet<PeerId>? fanout) || fanout.Count == 0)
            {
                fanout = [.. Sample(subscribers.Where(p => IsMeshCandidate(p, _scoreOptions.PublishThreshold)), _options.D)];
                _fanout[topic] = fanout;
            }
            _fanoutPublished[topic] = _time.GetUtcNow();
            chosen.UnionWith(fanout);
        }
        foreach (PeerId id in subscribers)
        {
            if (_peers.TryGetValue(id, out PubsubPeer? peer) && peer.IsFloodsub)
                chosen.Add(id);
        }
        foreach (PeerId id in chosen)
        {
            if (_peers.TryGetValue(id, out PubsubPeer? peer))
                targets.Add(peer);
        }
        return targets;
    }

    private List<T> Sample<T>(IEnumerable<T> source, int count)
    {
        if (count <= 0)
            return [];
        List<T> items = [.. source];
        Shuffle(items);
        if (items.Count > count)
            items.RemoveRange(count, items.Count - count);
        return items;
    }

    private void Shuffle<T>(List<T> items)
    {
        for (int i = items.Count - 1; i > 0; i--)
        {
            int j = _random.Next(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }
}
