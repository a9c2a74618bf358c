using Echo.Core.Chat;
using Echo.Core.Ports;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Protocols.Files;

namespace Echo.Protocols;

/// <summary>Dialing a peer by its id (<see cref="IPeerDialer"/>), for /msg and /get to a peer that is not connected.</summary>
public sealed partial class Libp2pChatNetwork : IPeerDialer
{
    /// <summary>Most addresses tried for one peer, from every source together.</summary>
    public const int MaxDialCandidates = 16;

    /// <inheritdoc />
    public async Task DialPeerAsync(string peerId, IReadOnlyList<string> hints, CancellationToken cancellationToken)
    {
        if (!PeerId.TryParse(peerId, out PeerId? peer) || peer is null)
            throw new ChatNetworkException($"{SafeText.ForDisplay(peerId)} is not a peer id");
        if (peer == _host.PeerId)
            throw new ChatNetworkException("that is our own peer id");
        if (_host.GetConnection(peer) is not null)
            return;
        IReadOnlyList<Multiaddr> candidates = DialCandidates(peer, hints);
        if (candidates.Count == 0)
        {
            // Nothing known of it: its presence record in the DHT may name where it is.
            IReadOnlyList<Multiaddr> found = await PresenceCandidatesAsync(peer, cancellationToken).ConfigureAwait(false);
            if (found.Count > 0)
            {
                await DialThroughDhtAsync(peer, found, cancellationToken).ConfigureAwait(false);
                return;
            }
            throw new ChatNetworkException("no address of it is known (its offer named none, and it was not connected before)");
        }
        List<string> failures = [];
        foreach (Multiaddr address in candidates)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                await _host.DialAsync(address.WithPeerId(peer), cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (DialFailedException e)
            {
                failures.Add($"{address}: {e.Reason}");
            }
            catch (ObjectDisposedException e)
            {
                throw new ChatNetworkException("the network is stopped", e);
            }
            if (_host.GetConnection(peer) is not null)
                return;   // it dialed us meanwhile
        }
        throw new ChatNetworkException(failures.Count == 1
            ? failures[0]
            : $"{failures.Count} addresses tried; {failures[0]}" + (failures.Count > 1 ? $"; {failures[^1]}" : ""));
    }

    /// <summary>Where to look for <paramref name="peer"/>, in order: its offer's addresses, the remembered ones, what identify reported.</summary>
    internal IReadOnlyList<Multiaddr> DialCandidates(PeerId peer, IReadOnlyList<string> hints)
    {
        List<Multiaddr> result = [];
        HashSet<Multiaddr> own = [.. _host.AdvertisedAddresses.Select(a => a.WithoutPeerId()), .. _host.ListenAddresses];
        void Add(Multiaddr address)
        {
            if (result.Count >= MaxDialCandidates || (address.PeerId is { } named && named != peer))
                return;
            Multiaddr bare = address.WithoutPeerId();
            if (OfferAddresses.IsDialable(bare) && !own.Contains(bare) && !result.Contains(bare))
                result.Add(bare);
        }
        foreach (string text in OfferAddresses.Read(hints, peer.ToString()) ?? [])
            Add(Multiaddr.Parse(text));
        foreach (Multiaddr address in RememberedAddresses(peer))
            Add(address);
        foreach (Multiaddr address in _host.PeerStore.Get(peer)?.ListenAddresses ?? [])
            Add(address);
        return result;
    }
}
