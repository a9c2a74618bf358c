using System.Net;
using System.Security.Cryptography;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using V1 = Echo.Net.AutoNat.Pb.V1;
using V2 = Echo.Net.AutoNat.Pb.V2;

namespace Echo.Net.AutoNat;

/// <summary>What an AutoNAT server has done since it started (for <c>/stats</c>, tests and benchmarks).</summary>
/// <param name="Checks">Requests that ended with a dial back (v2) or a dial (v1).</param>
/// <param name="Refused">Requests with no address the server was willing to dial.</param>
/// <param name="RateLimited">Requests refused by the per-minute limits.</param>
/// <param name="LimitedConnections">Requests refused because they came over a limited (relayed) connection.</param>
/// <param name="DialDataRequests">Times the server asked for dial data (the address's IP was not the requester's).</param>
/// <param name="DialDataBytes">Dial data received.</param>
/// <param name="LargestDialDataChunk">The largest <c>DialDataResponse</c> data received.</param>
public readonly record struct AutoNatServerStats(long Checks, long Refused, long RateLimited, long LimitedConnections,
    long DialDataRequests, long DialDataBytes, int LargestDialDataChunk);

/// <summary>
/// The AutoNAT server (https://github.com/libp2p/specs/tree/master/autonat): v2 on
/// <c>/libp2p/autonat/2/dial-request</c> and v1 on <c>/libp2p/autonat/1.0.0</c>.
/// </summary>
/// <remarks>
/// v2 dials exactly one address: the first of the request that is TCP and public (<c>isPublic</c>,
/// the host's address classes unless <see cref="AutoNatOptions.IsPublic"/> says otherwise). When its IP is not the requester's observed IP, the requester first pays
/// 30-100 kB of dial data in chunks of at most 4096 bytes (the amplification guard). v1 dials only
/// addresses on the requester's observed IP. Both refuse requests over limited connections, and both
/// share one rate limit (<see cref="AutoNatOptions.GlobalChecksPerMinute"/>, <see cref="AutoNatOptions.PeerChecksPerMinute"/>).
/// Dials back go through <c>dialBack</c>, which must open a NEW connection that does not come from
/// our listening port (<see cref="AutoNatService.DialBackAsync"/> uses a fresh dial-only host).
/// </remarks>
internal sealed class AutoNatServer(AutoNatOptions options, Func<Multiaddr, bool> isPublic, Func<Connection, bool> isLimited,
    Func<Multiaddr, CancellationToken, Task<AutoNatDialBack>> dialBack, TimeProvider time, ILogger logger)
{
    private readonly AutoNatRateLimiter _limiter = new(options.GlobalChecksPerMinute, options.PeerChecksPerMinute, time);
    private long _checks;
    private long _refused;
    private long _rateLimited;
    private long _limitedConnections;
    private long _dialDataRequests;
    private long _dialDataBytes;
    private int _largestChunk;

    public AutoNatServerStats Stats => new(Interlocked.Read(ref _checks), Interlocked.Read(ref _refused),
        Interlocked.Read(ref _rateLimited), Interlocked.Read(ref _limitedConnections), Interlocked.Read(ref _dialDataRequests),
        Interlocked.Read(ref _dialDataBytes), Volatile.Read(ref _largestChunk));

    /// <summary>Serves one v2 dial request: choose, maybe ask for dial data, dial back, answer.</summary>
    public async Task HandleDialRequestAsync(P2PStream stream, CancellationToken cancellationToken)
    {
        if (isLimited(stream.Connection))
        {
            Interlocked.Increment(ref _limitedConnections);
            stream.Reset();
            return;
        }
        using CancellationTokenSource timer = new(options.RequestTimeout, time);
        using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token);
        try
        {
            V2.Message request = await AutoNatCodec.ReadV2Async(stream.Input, timeout.Token).ConfigureAwait(false)
                ?? throw new UnexpectedEndException(AutoNatCodec.DialRequestProtocol);
            if (request.MsgCase != V2.Message.MsgOneofCase.DialRequest)
                throw new ProtocolViolationException(AutoNatCodec.DialRequestProtocol, $"expected a DialRequest, got {request.MsgCase}");
            V2.DialResponse response = await ServeAsync(stream, request.DialRequest, timeout.Token).ConfigureAwait(false);
            await AutoNatCodec.WriteAsync(stream.Output, new V2.Message { DialResponse = response }, timeout.Token).ConfigureAwait(false);
            await stream.CompleteOutputAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (AutoNatCodec.IsPeerFailure(e) || e is OperationCanceledException)
        {
            Log.ServeFailed(logger, stream.RemotePeer, e.Message);
            stream.Reset();
        }
    }

    private async Task<V2.DialResponse> ServeAsync(P2PStream stream, V2.DialRequest request, CancellationToken cancellationToken)
    {
        if (!_limiter.TryAcquire(stream.RemotePeer))
        {
            Interlocked.Increment(ref _rateLimited);
            Log.RateLimited(logger, stream.RemotePeer);
            return new V2.DialResponse { Status = V2.DialResponse.Types.ResponseStatus.ERequestRejected };
        }
        (int index, Multiaddr? address) = Choose(request.Addrs);
        if (address is null)
        {
            Interlocked.Increment(ref _refused);
            return new V2.DialResponse { Status = V2.DialResponse.Types.ResponseStatus.EDialRefused };
        }
        IPAddress? observed = AutoNatAddresses.IpOf(stream.Connection.RemoteAddress);
        if (observed is null || !observed.Equals(AutoNatAddresses.IpOf(address)))
            await ReceiveDialDataAsync(stream, index, address, cancellationToken).ConfigureAwait(false);
        V2.DialStatus status = await DialBackAsync(address, request.Nonce, cancellationToken).ConfigureAwait(false);
        Interlocked.Increment(ref _checks);
        Log.Served(logger, stream.RemotePeer, address, status.ToString());
        return new V2.DialResponse { Status = V2.DialResponse.Types.ResponseStatus.Ok, AddrIdx = (uint)index, DialStatus = status };
    }

    /// <summary>The first address we are willing to dial: parseable, TCP and public; (-1, null) when none is.</summary>
    private (int Index, Multiaddr? Address) Choose(IList<ByteString> addresses)
    {
        int count = Math.Min(addresses.Count, AutoNatLimits.MaxRequestAddresses);
        for (int i = 0; i < count; i++)
        {
            if (MultiaddrCodec.TryParseBinary(addresses[i].Span, out Multiaddr? address) is not null || address is null)
                continue;
            if (address.PeerId is not null || AutoNatAddresses.IpOf(address) is null || !isPublic(address))
                continue;
            return (i, address);
        }
        return (-1, null);
    }

    /// <summary>Asks for 30-100 kB and reads <c>DialDataResponse</c>s until that much came; a chunk over 4096 bytes is a violation.</summary>
    private async Task ReceiveDialDataAsync(P2PStream stream, int index, Multiaddr address, CancellationToken cancellationToken)
    {
        int wanted = RandomNumberGenerator.GetInt32(options.MinDialDataBytes, options.MaxDialDataBytes + 1);
        Interlocked.Increment(ref _dialDataRequests);
        V2.Message ask = new() { DialDataRequest = new V2.DialDataRequest { AddrIdx = (uint)index, NumBytes = (ulong)wanted } };
        await AutoNatCodec.WriteAsync(stream.Output, ask, cancellationToken).ConfigureAwait(false);
        long received = 0;
        int chunks = 0, largestHere = 0;
        while (received < wanted)
        {
            V2.Message message = await AutoNatCodec.ReadV2Async(stream.Input, cancellationToken).ConfigureAwait(false)
                ?? throw new UnexpectedEndException(AutoNatCodec.DialRequestProtocol);
            if (message.MsgCase != V2.Message.MsgOneofCase.DialDataResponse)
                throw new ProtocolViolationException(AutoNatCodec.DialRequestProtocol, $"expected DialDataResponse, got {message.MsgCase}");
            int length = message.DialDataResponse.Data.Length;
            if (length > AutoNatLimits.MaxDialDataChunk)
            {
                throw new ProtocolViolationException(AutoNatCodec.DialRequestProtocol,
                    $"a {length}-byte dial data chunk exceeds {AutoNatLimits.MaxDialDataChunk} bytes");
            }
            received += length;
            chunks++;
            largestHere = Math.Max(largestHere, length);
            Interlocked.Add(ref _dialDataBytes, length);
            int largest;
            while (length > (largest = Volatile.Read(ref _largestChunk)) && Interlocked.CompareExchange(ref _largestChunk, length, largest) != largest)
            {
            }
        }
        Log.DialDataReceived(logger, stream.RemotePeer, address, received, wanted, chunks, largestHere);
    }

    /// <summary>
    /// Dials <paramref name="address"/> on a new connection and hands over the nonce: <c>OK</c> once the
    /// nonce was written (the spec's "successfully send a nonce"), whatever the client does next,
    /// even when it resets the stream before our side could close it; <c>E_DIAL_BACK_ERROR</c> when the stream cannot be opened or the nonce not written.
    /// </summary>
    /// <remarks>
    /// The client's <c>DialBackResponse</c> only tells us the nonce arrived before we close the
    /// connection (closing drops what is still queued), so it is waited for, bounded by the dial-back
    /// timeout, but not judged: a client may answer and reset the stream at once (the reset can
    /// overtake the answer here), drop the connection, or close without answering after it read the
    /// nonce, and in each case it holds the nonce. Judging by the answer once made a js client that
    /// had its nonce count no success.
    /// </remarks>
    private async Task<V2.DialStatus> DialBackAsync(Multiaddr address, ulong nonce, CancellationToken cancellationToken)
    {
        using CancellationTokenSource timer = new(options.DialBackTimeout, time);
        using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token);
        AutoNatDialBack dial;
        try
        {
            dial = await dialBack(address, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is DialFailedException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            Log.DialBackFailed(logger, address, e.Message);
            return V2.DialStatus.EDialError;
        }
        try
        {
            P2PStream back;
            try
            {
                back = await dial.Connection.OpenStreamAsync(AutoNatCodec.DialBackProtocol, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (AutoNatCodec.IsPeerFailure(e) || e is OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                Log.DialBackFailed(logger, address, e.Message);
                return V2.DialStatus.EDialBackError;
            }
            try
            {
                await AutoNatCodec.WriteAsync(back.Output, new V2.DialBack { Nonce = nonce }, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (AutoNatCodec.IsPeerFailure(e) || e is OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                back.Reset();
                Log.DialBackFailed(logger, address, e.Message);
                return V2.DialStatus.EDialBackError;
            }
            try
            {
                // The nonce is on its way: a client that read it may answer, close or reset before
                // our side closes, so closing fails like the answer does, and neither is judged.
                await back.CompleteOutputAsync().ConfigureAwait(false);
                V2.DialBackResponse? answer = await AutoNatCodec.ReadDialBackAsync(back.Input, V2.DialBackResponse.Parser, timeout.Token)
                    .ConfigureAwait(false);
                if (answer is null)
                    Log.DialBackUnanswered(logger, address, "the client closed the stream without an answer");
            }
            catch (Exception e) when (AutoNatCodec.IsPeerFailure(e) || e is OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                back.Reset();
                Log.DialBackUnanswered(logger, address, e.Message);
            }
            return V2.DialStatus.Ok;
        }
        finally
        {
            await dial.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Serves one v1 request: dial the requester's addresses on its observed IP, report the first that works.</summary>
    public async Task HandleV1Async(P2PStream stream, CancellationToken cancellationToken)
    {
        if (isLimited(stream.Connection))
        {
            Interlocked.Increment(ref _limitedConnections);
            stream.Reset();
            return;
        }
        using CancellationTokenSource timer = new(options.RequestTimeout, time);
        using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token);
        try
        {
            V1.Message request = await AutoNatCodec.ReadV1Async(stream.Input, timeout.Token).ConfigureAwait(false)
                ?? throw new UnexpectedEndException(AutoNatCodec.V1Protocol);
            V1.Message.Types.DialResponse response = await ServeV1Async(stream, request, timeout.Token).ConfigureAwait(false);
            V1.Message answer = new() { Type = V1.Message.Types.MessageType.DialResponse, DialResponse = response };
            await AutoNatCodec.WriteAsync(stream.Output, answer, timeout.Token).ConfigureAwait(false);
            await stream.CompleteOutputAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (AutoNatCodec.IsPeerFailure(e) || e is OperationCanceledException)
        {
            Log.ServeFailed(logger, stream.RemotePeer, e.Message);
            stream.Reset();
        }
    }

    private async Task<V1.Message.Types.DialResponse> ServeV1Async(P2PStream stream, V1.Message request, CancellationToken cancellationToken)
    {
        if (request.Type != V1.Message.Types.MessageType.Dial || request.Dial?.Peer is not { } peer)
            return V1Answer(V1.Message.Types.ResponseStatus.EBadRequest, "expected a DIAL with a peer");
        if (!peer.HasId || !PeerId.TryFromBytes(peer.Id.Span, out PeerId? id) || id != stream.RemotePeer)
            return V1Answer(V1.Message.Types.ResponseStatus.EBadRequest, "the peer id is not the requester's");
        if (!_limiter.TryAcquire(stream.RemotePeer))
        {
            Interlocked.Increment(ref _rateLimited);
            Log.RateLimited(logger, stream.RemotePeer);
            return V1Answer(V1.Message.Types.ResponseStatus.EDialRefused, "too many dial requests");
        }
        IPAddress? observed = AutoNatAddresses.IpOf(stream.Connection.RemoteAddress);
        List<Multiaddr> targets = [];
        foreach (ByteString bytes in peer.Addrs.Take(AutoNatLimits.MaxRequestAddresses))
        {
            if (MultiaddrCodec.TryParseBinary(bytes.Span, out Multiaddr? address) is not null || address is null)
                continue;
            address = address.WithoutPeerId();
            if (observed is not null && observed.Equals(AutoNatAddresses.IpOf(address)) && isPublic(address) && !targets.Contains(address))
                targets.Add(address);
            if (targets.Count == AutoNatLimits.MaxV1DialAddresses)
                break;
        }
        if (targets.Count == 0)
        {
            Interlocked.Increment(ref _refused);
            return V1Answer(V1.Message.Types.ResponseStatus.EDialRefused, "no public address on the observed IP");
        }
        Interlocked.Increment(ref _checks);
        foreach (Multiaddr target in targets)
        {
            using CancellationTokenSource timer = new(options.DialBackTimeout, time);
            using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token);
            try
            {
                AutoNatDialBack dial = await dialBack(target.WithPeerId(stream.RemotePeer), timeout.Token).ConfigureAwait(false);
                await dial.DisposeAsync().ConfigureAwait(false);
                Log.Served(logger, stream.RemotePeer, target, "OK (v1)");
                return new V1.Message.Types.DialResponse
                {
                    Status = V1.Message.Types.ResponseStatus.Ok,
                    Addr = ByteString.CopyFrom(target.ToBytes()),
                };
            }
            catch (Exception e) when (e is DialFailedException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                Log.DialBackFailed(logger, target, e.Message);
            }
        }
        return V1Answer(V1.Message.Types.ResponseStatus.EDialError, "dial failed");
    }

    private static V1.Message.Types.DialResponse V1Answer(V1.Message.Types.ResponseStatus status, string text) =>
        new() { Status = status, StatusText = text };
}
