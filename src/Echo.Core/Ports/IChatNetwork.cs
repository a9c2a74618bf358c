using System.Threading.Channels;
using Echo.Core.Chat;

namespace Echo.Core.Ports;

/// <summary>
/// The network as the chat needs it. Implemented over libp2p by Echo.Protocols; tests use a fake.
/// Addresses and peer ids cross this boundary as text, so Core knows nothing of their encodings.
/// </summary>
public interface IChatNetwork : IAsyncDisposable
{
    /// <summary>Our peer id (text form).</summary>
    string LocalPeerId { get; }

    /// <summary>Addresses peers can dial, each ending in /p2p/ with our id. Valid after start.</summary>
    IReadOnlyList<string> ListenAddresses { get; }

    /// <summary>Messages and peer changes, in arrival order. Read by one reader, the chat manager.</summary>
    ChannelReader<NetworkEvent> Events { get; }

    /// <summary>Starts listening. Throws <see cref="ChatNetworkException"/> when it cannot (port in use…).</summary>
    Task StartAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Dials <paramref name="address"/> (a multiaddr, with or without /p2p/) and returns the peer id
    /// that answered. Throws <see cref="ChatNetworkException"/> with the reason when it cannot.
    /// </summary>
    Task<string> ConnectAsync(string address, CancellationToken cancellationToken);

    /// <summary>Starts receiving <paramref name="room"/>'s messages.</summary>
    Task JoinRoomAsync(string room, CancellationToken cancellationToken);

    /// <summary>Stops receiving <paramref name="room"/>'s messages.</summary>
    Task LeaveRoomAsync(string room, CancellationToken cancellationToken);

    /// <summary>
    /// Sends a message to <paramref name="room"/>; returns it as the network carries it (id, time).
    /// The caller checked <paramref name="room"/>, <paramref name="nick"/> and <paramref name="text"/> against <see cref="ChatLimits"/>.
    /// </summary>
    Task<ChatMessage> PublishAsync(string room, string nick, string text, CancellationToken cancellationToken);

    /// <summary>
    /// Sends <paramref name="nick"/>'s <c>/me</c> <paramref name="action"/> to <paramref name="room"/>
    /// (<see cref="ChatAction"/>). A network that cannot flag actions sends the readable text.
    /// </summary>
    Task<ChatMessage> PublishActionAsync(string room, string nick, string action, CancellationToken cancellationToken) =>
        PublishAsync(room, nick, ChatAction.Fallback(nick, action), cancellationToken);
}
