using System.Text;
using Echo.Core.Chat;
using Echo.Net;
using Echo.Net.Identity;
using Echo.Net.Records;
using Google.Protobuf;

namespace Echo.Protocols.Profile;

/// <summary>
/// A peer's nick (and away message) as a signed record: <see cref="Profile"/> inside a libp2p signed envelope under
/// the domain <see cref="Domain"/>. A record is valid only when signed by the key of the peer it
/// names, and only for the peer that sends it; a larger <see cref="Seq"/> is newer.
/// </summary>
/// <param name="Peer">The peer the nick belongs to.</param>
/// <param name="Seq">Larger in every newer record of the peer.</param>
/// <param name="Nick">The nick.</param>
/// <param name="Away">The away message, or null when the peer is not away (or sent one that breaks <see cref="AwayMessage"/>'s limits).</param>
internal sealed record ProfileRecord(PeerId Peer, ulong Seq, string Nick, string? Away = null)
{
    /// <summary>The signing domain: a profile signature is valid for nothing else.</summary>
    public const string Domain = "echo-profile";

    /// <summary>The envelope's payload type.</summary>
    public static readonly byte[] PayloadType = Encoding.UTF8.GetBytes(ProfileProtocol.ProtocolId);

    /// <summary>The largest encoded record: a key, a peer id, a 32-character nick and a signature fit many times over.</summary>
    public const int MaxBytes = 4 * 1024;

    /// <summary>The payload to sign for <paramref name="peer"/>'s record.</summary>
    public static byte[] Payload(PeerId peer, ulong seq, string nick, string? away = null) =>
        new Profile { PeerId = ByteString.CopyFrom(peer.Bytes), Seq = seq, Nick = nick, Away = away ?? "" }.ToByteArray();

    /// <summary>A record of <paramref name="key"/>'s peer, signed and encoded (the host seals with its own key the same way).</summary>
    public static byte[] Seal(KeyPair key, ulong seq, string nick, string? away = null) =>
        SignedRecord.Seal(key, Domain, PayloadType, Payload(key.PeerId, seq, nick, away));

    /// <summary>
    /// Decodes and checks a record that <paramref name="sender"/> sent: size, signature, signed by
    /// <paramref name="sender"/>'s key, naming <paramref name="sender"/>, and a valid nick.
    /// </summary>
    /// <exception cref="ProtocolViolationException">Any of these fails; the message says which.</exception>
    public static ProfileRecord Open(ReadOnlySpan<byte> encoded, PeerId sender)
    {
        if (encoded.Length > MaxBytes)
            throw new OversizedMessageException(ProfileProtocol.ProtocolId, (ulong)encoded.Length, MaxBytes);
        SignedRecord signed = SignedRecord.Open(encoded, Domain);
        if (signed.Signer != sender)
            throw new ProtocolViolationException(ProfileProtocol.ProtocolId, "profile signed by another key than the sender's");
        if (!signed.PayloadType.AsSpan().SequenceEqual(PayloadType))
            throw new ProtocolViolationException(ProfileProtocol.ProtocolId, "not a profile record");
        Profile profile;
        try
        {
            profile = Profile.Parser.ParseFrom(signed.Payload);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new ProtocolViolationException(ProfileProtocol.ProtocolId, "malformed profile: " + e.Message, e);
        }
        if (!profile.PeerId.Span.SequenceEqual(sender.Bytes))
            throw new ProtocolViolationException(ProfileProtocol.ProtocolId, "profile names another peer");
        if (ChatLimits.CheckNick(profile.Nick) is { } nickError)
            throw new ProtocolViolationException(ProfileProtocol.ProtocolId, "bad nick: " + SafeText.ForDisplay(nickError));
        // The away message is optional and only shown: one that breaks the limits is dropped, the nick still counts.
        string? away = profile.Away.Length > 0 && AwayMessage.Check(profile.Away) is null ? profile.Away : null;
        return new ProfileRecord(sender, profile.Seq, profile.Nick, away);
    }
}
