using System.Collections.Concurrent;
using System.Security.Cryptography;
using Echo.Net.Host;
using Echo.Net.Multiformats;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using V1 = Echo.Net.AutoNat.Pb.V1;
using V2 = Echo.Net.AutoNat.Pb.V2;

namespace Echo.Net.AutoNat;

/// <summary>How one AutoNAT check ended.</summary>
public enum AutoNatOutcome
{
    /// <summary>The server dialed the address (v2: and we received our nonce on it).</summary>
    Reachable,

    /// <summary>The server could not dial the address.</summary>
    Unreachable,

    /// <summary>The server would dial none of the addresses (private, wrong IP, transport it lacks).</summary>
    Refused,

    /// <summary>The server is busy (rate limit).</summary>
    Rejected,

    /// <summary>No verdict: an error, a dial-back error, or a response we could not verify (no dial back with our nonce).</summary>
    Failed,
}

/// <summary>The result of one check.</summary>
/// <param name="Outcome">What happened.</param>
/// <param name="Address">The address the server dialed (or tried to), when it said which.</param>
/// <param name="Protocol">The protocol the check used (v2 or v1).</param>
/// <param name="DialBackFrom">v2, reachable: the remote address of the dial-back connection as we saw it.</param>
/// <param name="Reason">Why there is no verdict, for logs.</param>
public sealed record AutoNatCheck(AutoNatOutcome Outcome, Multiaddr? Address, string Protocol, Multiaddr? DialBackFrom = null,
    string? Reason = null);

/// <summary>
/// The AutoNAT client: asks a connected server to dial our addresses, with v2
/// (<c>/libp2p/autonat/2/dial-request</c>, verified by a nonce received on
/// <c>/libp2p/autonat/2/dial-back</c>) or, when the server does not speak v2, v1
/// (<c>/libp2p/autonat/1.0.0</c>, unverifiable). Serves the dial-back side of v2.
/// </summary>
internal sealed class AutoNatClient(Libp2pHost host, AutoNatOptions options, TimeProvider time, ILogger logger)
{
    private static readonly string[] Protocols = [AutoNatCodec.DialRequestProtocol, AutoNatCodec.V1Protocol];

    private readonly ConcurrentDictionary<ulong, TaskCompletionSource<Multiaddr>> _pending = new();
    private long _dialBacksRefused;

    /// <summary>Dial backs whose nonce matched no check of ours (reset unanswered).</summary>
    public long DialBacksRefused => Interlocked.Read(ref _dialBacksRefused);

    /// <summary>
    /// Asks the server at the other end of <paramref name="server"/> to dial the first of
    /// <paramref name="addresses"/> it is willing to. Never throws for what the server does; the
    /// outcome says it.
    /// </summary>
    public async Task<AutoNatCheck> CheckAsync(Connection server, IReadOnlyList<Multiaddr> addresses, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfZero(addresses.Count);
        using CancellationTokenSource timer = new(options.RequestTimeout, time);
        using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token, server.Closed);
        P2PStream stream;
        try
        {
            stream = await server.OpenStreamAsync(Protocols, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (AutoNatCodec.IsPeerFailure(e) || e is OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return new AutoNatCheck(AutoNatOutcome.Failed, null, AutoNatCodec.DialRequestProtocol, Reason: e.Message);
        }
        try
        {
            return stream.Protocol == AutoNatCodec.V1Protocol
                ? await CheckV1Async(stream, addresses, timeout.Token).ConfigureAwait(false)
                : await CheckV2Async(stream, addresses, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (AutoNatCodec.IsPeerFailure(e) || e is OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            stream.Reset();
            return new AutoNatCheck(AutoNatOutcome.Failed, null, stream.Protocol, Reason: e.Message);
        }
    }

    private async Task<AutoNatCheck> CheckV2Async(P2PStream stream, IReadOnlyList<Multiaddr> addresses, CancellationToken cancellationToken)
    {
        const string protocol = AutoNatCodec.DialRequestProtocol;
        ulong nonce = NewNonce();
        TaskCompletionSource<Multiaddr> dialedBack = new(TaskCreationOptions.RunContinuationsAsynchronously);
        while (!_pending.TryAdd(nonce, dialedBack))
            nonce = NewNonce();
        try
        {
            V2.DialRequest request = new() { Nonce = nonce };
            request.Addrs.AddRange(addresses.Select(a => ByteString.CopyFrom(a.WithoutPeerId().ToBytes())));
            await AutoNatCodec.WriteAsync(stream.Output, new V2.Message { DialRequest = request }, cancellationToken).ConfigureAwait(false);
            V2.DialResponse? response = null;
            bool paid = false;
            while (response is null)
            {
                V2.Message message = await AutoNatCodec.ReadV2Async(stream.Input, cancellationToken).ConfigureAwait(false)
                    ?? throw new UnexpectedEndException(protocol);
                switch (message.MsgCase)
                {
                    case V2.Message.MsgOneofCase.DialResponse:
                        response = message.DialResponse;
                        break;
                    case V2.Message.MsgOneofCase.DialDataRequest when !paid:
                        V2.DialDataRequest ask = message.DialDataRequest;
                        if (ask.AddrIdx >= (uint)addresses.Count || ask.NumBytes > (ulong)options.MaxDialDataBytes)
                        {
                            stream.Reset();
                            return new AutoNatCheck(AutoNatOutcome.Failed, null, protocol,
                                Reason: $"refused to send {ask.NumBytes} bytes of dial data for address {ask.AddrIdx}");
                        }
                        await SendDialDataAsync(stream, (int)ask.NumBytes, cancellationToken).ConfigureAwait(false);
                        paid = true;
                        break;
                    default:
                        throw new ProtocolViolationException(protocol, $"unexpected {message.MsgCase}");
                }
            }
            await stream.CompleteOutputAsync().ConfigureAwait(false);
            return await InterpretAsync(response, addresses, dialedBack.Task, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _pending.TryRemove(nonce, out _);
        }
    }

    private async Task<AutoNatCheck> InterpretAsync(V2.DialResponse response, IReadOnlyList<Multiaddr> addresses, Task<Multiaddr> dialedBack,
        CancellationToken cancellationToken)
    {
        const string protocol = AutoNatCodec.DialRequestProtocol;
        switch (response.Status)
        {
            case V2.DialResponse.Types.ResponseStatus.ERequestRejected:
                return new AutoNatCheck(AutoNatOutcome.Rejected, null, protocol, Reason: "rejected (rate limit)");
            case V2.DialResponse.Types.ResponseStatus.EDialRefused:
                return new AutoNatCheck(AutoNatOutcome.Refused, null, protocol, Reason: "the server would dial none of the addresses");
            case V2.DialResponse.Types.ResponseStatus.Ok:
                break;
            default:
                return new AutoNatCheck(AutoNatOutcome.Failed, null, protocol, Reason: $"response status {response.Status}");
        }
        if (response.AddrIdx >= (uint)addresses.Count)
            throw new ProtocolViolationException(protocol, $"address index {response.AddrIdx} of {addresses.Count}");
        Multiaddr address = addresses[(int)response.AddrIdx];
        switch (response.DialStatus)
        {
            case V2.DialStatus.EDialError:
                return new AutoNatCheck(AutoNatOutcome.Unreachable, address, protocol);
            case V2.DialStatus.Ok:
                break;
            default:
                return new AutoNatCheck(AutoNatOutcome.Failed, address, protocol, Reason: $"dial status {response.DialStatus}");
        }
        // The server says it delivered our nonce; believe it only when we received it.
        using CancellationTokenSource timer = new(options.DialBackWait, time);
        using CancellationTokenSource wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token);
        try
        {
            Multiaddr from = await dialedBack.WaitAsync(wait.Token).ConfigureAwait(false);
            return new AutoNatCheck(AutoNatOutcome.Reachable, address, protocol, from);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new AutoNatCheck(AutoNatOutcome.Failed, address, protocol, Reason: "the server reported a dial back that never brought our nonce");
        }
    }

    /// <summary>Sends at least <paramref name="count"/> bytes as <c>DialDataResponse</c>s of at most 4096 bytes each.</summary>
    private static async Task SendDialDataAsync(P2PStream stream, int count, CancellationToken cancellationToken)
    {
        byte[] chunk = new V2.Message { DialDataResponse = new V2.DialDataResponse { Data = ByteString.CopyFrom(new byte[AutoNatLimits.MaxDialDataChunk]) } }
            .ToByteArray();
        for (int sent = 0; sent < count; sent += AutoNatLimits.MaxDialDataChunk)
            await Framing.PipeExtensions.WriteLengthPrefixedAsync(stream.Output, chunk, cancellationToken).ConfigureAwait(false);
    }

    private async Task<AutoNatCheck> CheckV1Async(P2PStream stream, IReadOnlyList<Multiaddr> addresses, CancellationToken cancellationToken)
    {
        const string protocol = AutoNatCodec.V1Protocol;
        V1.Message.Types.PeerInfo peer = new() { Id = ByteString.CopyFrom(host.PeerId.ToBytes()) };
        peer.Addrs.AddRange(addresses.Select(a => ByteString.CopyFrom(a.WithoutPeerId().ToBytes())));
        V1.Message request = new() { Type = V1.Message.Types.MessageType.Dial, Dial = new V1.Message.Types.Dial { Peer = peer } };
        await AutoNatCodec.WriteAsync(stream.Output, request, cancellationToken).ConfigureAwait(false);
        await stream.CompleteOutputAsync().ConfigureAwait(false);
        V1.Message answer = await AutoNatCodec.ReadV1Async(stream.Input, cancellationToken).ConfigureAwait(false)
            ?? throw new UnexpectedEndException(protocol);
        if (answer.Type != V1.Message.Types.MessageType.DialResponse || answer.DialResponse is not { } response)
            throw new ProtocolViolationException(protocol, "expected a DIAL_RESPONSE");
        // v1 is one verdict for the node: it applies to the address the server names, else to the first we sent.
        Multiaddr address = response.HasAddr && MultiaddrCodec.TryParseBinary(response.Addr.Span, out Multiaddr? named) is null
            && named is not null && addresses.Contains(named.WithoutPeerId())
            ? named.WithoutPeerId()
            : addresses[0];
        return response.Status switch
        {
            V1.Message.Types.ResponseStatus.Ok => new AutoNatCheck(AutoNatOutcome.Reachable, address, protocol),
            V1.Message.Types.ResponseStatus.EDialError => new AutoNatCheck(AutoNatOutcome.Unreachable, address, protocol),
            V1.Message.Types.ResponseStatus.EDialRefused => new AutoNatCheck(AutoNatOutcome.Refused, null, protocol, Reason: response.StatusText),
            _ => new AutoNatCheck(AutoNatOutcome.Failed, null, protocol, Reason: $"{response.Status}: {response.StatusText}"),
        };
    }

    /// <summary>
    /// Serves <c>/libp2p/autonat/2/dial-back</c>: a nonce of one of our pending checks is taken
    /// (with the address it arrived on) and acknowledged; any other nonce is reset unanswered.
    /// The connection may come from any peer id (servers dial back from a separate identity).
    /// </summary>
    public async Task HandleDialBackAsync(P2PStream stream, CancellationToken cancellationToken)
    {
        using CancellationTokenSource timer = new(options.DialBackTimeout, time);
        using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token);
        try
        {
            V2.DialBack? message = await AutoNatCodec.ReadDialBackAsync(stream.Input, V2.DialBack.Parser, timeout.Token).ConfigureAwait(false);
            if (message is null || !_pending.TryGetValue(message.Nonce, out TaskCompletionSource<Multiaddr>? waiting))
            {
                Interlocked.Increment(ref _dialBacksRefused);
                Log.DialBackUnknownNonce(logger, stream.RemotePeer);
                stream.Reset();
                return;
            }
            await AutoNatCodec.WriteAsync(stream.Output, new V2.DialBackResponse { Status = V2.DialBackResponse.Types.DialBackStatus.Ok },
                timeout.Token).ConfigureAwait(false);
            await stream.CompleteOutputAsync().ConfigureAwait(false);
            Multiaddr from = stream.Connection.RemoteAddress.WithoutPeerId();
            Log.DialBackArrived(logger, from);
            waiting.TrySetResult(from);
        }
        catch (Exception e) when (AutoNatCodec.IsPeerFailure(e) || e is OperationCanceledException)
        {
            Log.ServeFailed(logger, stream.RemotePeer, e.Message);
            stream.Reset();
        }
    }

    private static ulong NewNonce()
    {
        Span<byte> bytes = stackalloc byte[8];
        RandomNumberGenerator.Fill(bytes);
        return BitConverter.ToUInt64(bytes);
    }
}
