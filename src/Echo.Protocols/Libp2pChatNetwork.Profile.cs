using Echo.Core.Chat;
using Echo.Core.Ports;
using Echo.Net.Host;
using Echo.Net.Identify;
using Echo.Net.Identity;
using Echo.Protocols.Profile;

namespace Echo.Protocols;

/// <summary>Nicks on connect (<c>/echo/profile/1.0.0</c>): our signed nick and away message to every peer that speaks it, theirs to the chat.</summary>
public sealed partial class Libp2pChatNetwork : IProfileNetwork
{
    private ProfileProtocol? _profile;

    internal ProfileProtocol Profiles =>
        LazyInitializer.EnsureInitialized(ref _profile, () => new ProfileProtocol(_host, _time, PostProfile, _logger));

    /// <summary>An accepted profile: its nick goes into the peer book too, then to the chat.</summary>
    private void PostProfile(NetworkEvent networkEvent)
    {
        if (networkEvent is PeerNickAnnounced announced && PeerId.TryParse(announced.PeerId, out PeerId? peer, out _) && peer is not null)
            RememberNick(peer, announced.Nick);
        Post(networkEvent);
    }

    /// <inheritdoc />
    public void AnnounceNick(string nick)
    {
        if (ChatLimits.CheckNick(nick) is not null || !Profiles.SetNick(nick))
            return;
        PushProfile();
    }

    /// <inheritdoc />
    public void AnnounceAway(string? reason)
    {
        if ((reason is not null && AwayMessage.Check(reason) is not null) || !Profiles.SetAway(reason))
            return;
        PushProfile();
    }

    /// <summary>Pushes our new record to every connected peer that speaks the protocol (once started).</summary>
    private void PushProfile()
    {
        if (Volatile.Read(ref _started) == 0 || _stopping.IsCancellationRequested)
            return;
        foreach (PeerId peer in _host.Connections.Select(c => c.RemotePeer).Distinct())
        {
            if (SpeaksProfile(peer))
                Track(Profiles.SendAsync(peer, _stopping.Token));
        }
    }

    /// <summary>Registers the profile handler (before the host starts, so identify announces it).</summary>
    private void StartProfile() => _host.SetStreamHandler(ProfileProtocol.ProtocolId, Profiles.HandleAsync, allowOnLimited: true);

    /// <summary>Identify showed what the peer speaks: a peer that speaks the profile protocol gets our record.</summary>
    private void OnProfilePeerIdentified(Connection connection, IdentifyInfo info)
    {
        if (info.Supports(ProfileProtocol.ProtocolId) && !connection.IsClosed)
            Track(Profiles.SendAsync(connection.RemotePeer, _stopping.Token));
    }

    private void OnProfilePeerDisconnected(PeerId peer)
    {
        if (_host.GetConnection(peer) is null)
            Profiles.OnDisconnected(peer);
    }

    private bool SpeaksProfile(PeerId peer) =>
        _host.PeerStore.Get(peer) is { } info && info.Supports(ProfileProtocol.ProtocolId);
}
