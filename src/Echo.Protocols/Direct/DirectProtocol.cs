using Echo.Core;
using Echo.Core.Chat;
using Echo.Core.Direct;
using Echo.Core.Files;
using Echo.Core.Ports;
using Echo.Net;
using Echo.Net.Framing;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Protocols.Files;
using Google.Protobuf;
using Microsoft.Extensions.Logging;

namespace Echo.Protocols.Direct;

/// <summary>
/// <c>/echo/dm/1.0.0</c>: one direct message per stream, acknowledged on the same stream once the
/// chat stored it (accepted), or answered "not accepted" with the reason when it could not. The
/// sender is the stream's remote peer (proven by the Noise handshake), never a field of the frame.
/// </summary>
/// <param name="post">Hands an event to the chat, waiting while the peer's share of the queue is full.</param>
internal sealed class DirectProtocol(Libp2pHost host, Func<string, NetworkEvent, CancellationToken, ValueTask> post, ILogger logger)
{
    /// <summary>One "not accepted" warning per peer a minute (L-warnings).</summary>
    private readonly WarningLimiter _warnings = new();

    public const string ProtocolId = "/echo/dm/1.0.0";

    /// <summary>A frame's limit: 4 KiB of text and a 16 KiB name fit many times over, even escaped.</summary>
    public const int MaxFrameBytes = 64 * 1024;

    /// <summary>
    /// How long one exchange may take: the frame in, stored by the chat, the acknowledgement out. A
    /// frame not stored in time gets no acknowledgement (the stream is reset): its sender keeps it.
    /// </summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <summary>Serves one inbound stream: reads the frame, hands it to the chat, and acknowledges it once stored.</summary>
    public async Task HandleAsync(P2PStream stream, CancellationToken cancellationToken)
    {
        using CancellationTokenSource limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(Timeout);
        byte[]? bytes = await stream.Input.ReadLengthPrefixedAsync(MaxFrameBytes, ProtocolId, limit.Token).ConfigureAwait(false);
        if (bytes is null)
            return;
        DirectFrame frame;
        try
        {
            frame = DirectFrame.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new ProtocolViolationException(ProtocolId, "bad frame: " + e.Message, e);
        }
        string? problem = Check(frame, out DirectEnvelope? envelope);
        if (envelope?.Offer is { } offer)   // the stream's peer is the offerer: its addresses must be its own
            envelope = envelope with { Offer = offer with { Addresses = OfferAddresses.Read(frame.Offer.Addrs, stream.RemotePeer.ToString()) } };
        if (envelope is not null)
        {
            // The peer's streams wait here while its share of the chat's queue is full; the
            // acknowledgement waits until the chat stored the message.
            string peer = stream.RemotePeer.ToString();
            DirectReceipt receipt = new();
            await post(peer, new DirectArrived(peer, envelope) { Receipt = receipt }, limit.Token).ConfigureAwait(false);
            problem = await receipt.Outcome.WaitAsync(limit.Token).ConfigureAwait(false);
            if (problem is not null && _warnings.ShouldReport(peer, out long heldBack))
                Log.DirectNotAccepted(logger, stream.RemotePeer, problem, heldBack);
        }
        else
        {
            Log.DirectRejected(logger, stream.RemotePeer, problem!);
        }
        DirectAck ack = new() { Id = frame.Id, Accepted = problem is null, Reason = problem ?? "" };
        await stream.Output.WriteLengthPrefixedAsync(ack.ToByteArray(), limit.Token).ConfigureAwait(false);
        await stream.CompleteOutputAsync().ConfigureAwait(false);
    }

    /// <summary>Sends one frame and waits for its acknowledgement.</summary>
    /// <exception cref="ChatNetworkException">Not connected, no answer in time, or refused.</exception>
    public async Task SendAsync(string peerId, DirectEnvelope envelope, CancellationToken cancellationToken)
    {
        if (!PeerId.TryParse(peerId, out PeerId? peer) || peer is null)
            throw new ChatNetworkException($"{SafeText.ForDisplay(peerId)} is not a peer id");
        DirectFrame frame = ToFrame(envelope);
        using CancellationTokenSource limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(Timeout);
        P2PStream stream = await ProtocolStreams.OpenAsync(host, peer, ProtocolId, "the peer is not connected", limit.Token, cancellationToken)
            .ConfigureAwait(false);
        try
        {
            await stream.Output.WriteLengthPrefixedAsync(frame.ToByteArray(), limit.Token).ConfigureAwait(false);
            await stream.CompleteOutputAsync().ConfigureAwait(false);
            byte[] bytes = await stream.Input.ReadLengthPrefixedAsync(MaxFrameBytes, ProtocolId, limit.Token).ConfigureAwait(false)
                ?? throw new ChatNetworkException("the peer closed the stream without acknowledging");
            DirectAck ack = DirectAck.Parser.ParseFrom(bytes);
            if (ack.Id != envelope.Id)
                throw new ChatNetworkException("the peer acknowledged another message");
            if (!ack.Accepted)
                throw new ChatNetworkException("the peer refused it: " + SafeText.ForDisplay(ack.Reason));
        }
        catch (Exception e) when (e is IOException or ProtocolViolationException or InvalidProtocolBufferException
                                  || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            stream.Reset();
            throw new ChatNetworkException(e is OperationCanceledException ? "no acknowledgement in time" : e.Message, e);
        }
    }

    internal static DirectFrame ToFrame(DirectEnvelope envelope)
    {
        DirectFrame frame = new()
        {
            Id = envelope.Id,
            Nick = envelope.Nick,
            TimestampMs = envelope.Timestamp.ToUnixTimeMilliseconds(),
            // An action travels as the readable "* nick action", flagged, as in rooms: older peers show the text.
            Text = envelope.Action && envelope.Text is { } action ? ChatAction.Fallback(envelope.Nick, action) : envelope.Text ?? "",
            Action = envelope.Action && envelope.Text is not null,
        };
        if (envelope.Offer is { } offer)
        {
            frame.Offer = new FileOfferFrame
            {
                Id = offer.Id,
                Name = offer.Name,
                Size = (ulong)offer.Size,
                Sha256 = ByteString.CopyFrom(Convert.FromHexString(offer.Sha256)),
            };
            if (offer.Addresses is { } addresses)
                frame.Offer.Addrs.AddRange(addresses);
        }
        return frame;
    }

    /// <summary>Null and the envelope when the frame keeps every rule; else why not.</summary>
    internal static string? Check(DirectFrame frame, out DirectEnvelope? envelope)
    {
        envelope = null;
        if (!DirectIds.IsValid(frame.Id))
            return "bad id";
        if (frame.Text.Length == 0 && frame.Offer is null)
            return "neither text nor a file offer";
        if (frame.Text.Length > 0 && ChatLimits.CheckText(frame.Text) is { } textError)
            return textError;
        FileOffer? offer = null;
        if (frame.Offer is { } wire)
        {
            if (wire.Size > long.MaxValue || wire.Sha256.Length != 32)
                return "bad file offer";
            offer = new FileOffer(wire.Id, wire.Name, (long)wire.Size, Convert.ToHexStringLower(wire.Sha256.Span));
            if (offer.Problem() is { } offerProblem)
                return offerProblem;
        }
        DateTimeOffset timestamp;
        try
        {
            timestamp = DateTimeOffset.FromUnixTimeMilliseconds(frame.TimestampMs);
        }
        catch (ArgumentOutOfRangeException)
        {
            timestamp = DateTimeOffset.UtcNow;
        }
        string nick = frame.Nick.Length <= 4 * ChatLimits.MaxNickLength ? frame.Nick : "";
        // A flag on a text that is not "* nick …" is ignored: the text is shown as written.
        string? action = frame.Action ? ChatAction.Open(frame.Text, nick) : null;
        envelope = new DirectEnvelope(frame.Id, nick, timestamp, action ?? (frame.Text.Length == 0 ? null : frame.Text), offer)
        {
            Action = action is not null,
        };
        return null;
    }
}
