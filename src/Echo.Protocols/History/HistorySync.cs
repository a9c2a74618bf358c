using Echo.Core.Chat;
using Echo.Core.Ports;
using Echo.Net;
using Echo.Net.Framing;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Protocols.History.Pb;
using Echo.Protocols.Rooms;
using Google.Protobuf;
using Microsoft.Extensions.Logging;

namespace Echo.Protocols.History;

/// <summary>
/// <c>/echo/history/1.0.0</c>: a node asks a peer for a room's messages it lacks, page by page on
/// one stream, and answers such requests from its own store. Every fetched message is checked
/// against its author's pubsub signature and <c>SenderID</c>; what fails is dropped and counted
/// against the peer that sent it. It only reads the store (<see cref="IHistoryReader"/>): each
/// verified page goes to the chat as a <see cref="HistoryPageFetched"/>, and the next page is asked
/// for only once the chat stored it (its <see cref="HistoryReceipt"/>). See docs/PROTOCOLS.md for the wire format.
/// </summary>
internal sealed class HistorySync
{
    public const string ProtocolId = "/echo/history/1.0.0";

    /// <summary>A request frame: 512 ids of about 70 bytes fit with room to spare.</summary>
    public const int MaxRequestBytes = 64 * 1024;

    /// <summary>A response frame: a page stops growing past <see cref="PageBytes"/>, and one message is at most 64 KiB of data.</summary>
    public const int MaxResponseBytes = 1024 * 1024;

    public const int PageBytes = 256 * 1024;

    public const int MaxPageMessages = 500;

    public const int MaxHaveIds = 512;

    /// <summary>Requests one stream may carry before the responder closes it.</summary>
    public const int MaxRequestsPerStream = 10_000;

    /// <summary>
    /// Syncs with one peer that run at once (one stream each); the others wait their turn. Half the
    /// responder's limit of inbound history streams per peer (<see cref="InboundStreamLimits.History"/>),
    /// so sharing any number of rooms is never refused (docs/LIMITS.md, L-history-syncs-per-peer).
    /// </summary>
    public const int MaxSyncsPerPeer = InboundStreamLimits.History / 2;

    private readonly Libp2pHost _host;
    private readonly IHistoryReader _store;
    private readonly HistorySyncOptions _options;
    private readonly TimeSpan _serveIdleTimeout;
    private readonly Func<NetworkEvent, CancellationToken, ValueTask> _post;
    private readonly Action<PeerId> _penalize;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SyncTurns<PeerId> _turns = new(MaxSyncsPerPeer);
    private readonly InvalidMessageTally _invalid;
    private readonly HistoryServeLimits _limits;
    private long _bytesReceived;
    private long _bytesSent;
    private long _idleResets;

    public HistorySync(Libp2pHost host, IHistoryReader store, HistorySyncOptions options, Func<NetworkEvent, CancellationToken, ValueTask> post,
        Action<PeerId> penalize, TimeProvider time, ILogger logger, TimeSpan serveIdleTimeout)
    {
        _serveIdleTimeout = serveIdleTimeout;
        _host = host;
        _store = store;
        _options = options;
        _invalid = new InvalidMessageTally(options.MaxInvalidPerPeer);
        _post = post;
        _penalize = penalize;
        _time = time;
        _logger = logger;
        _limits = new HistoryServeLimits(options, time);
    }

    /// <summary>Requests we did not serve, by the limit that refused them (for /stats).</summary>
    public IReadOnlyDictionary<string, long> Refusals => _limits.Refusals;

    /// <summary>Frame bytes read from peers' answers (prefixes included).</summary>
    public long BytesReceived => Interlocked.Read(ref _bytesReceived);

    /// <summary>Frame bytes written in our answers (prefixes included).</summary>
    public long BytesSent => Interlocked.Read(ref _bytesSent);

    /// <summary>Served streams reset because the peer neither asked nor read for the idle timeout (L-served-idle).</summary>
    public long IdleResets => Interlocked.Read(ref _idleResets);

    /// <summary>Messages from <paramref name="peer"/>'s answers that failed verification.</summary>
    public int InvalidFrom(PeerId peer) => _invalid.Count(peer);

    /// <summary>
    /// Fetches what <paramref name="peer"/> has of <paramref name="room"/> after our cursor for it,
    /// unless a sync of that pair is already running (then returns that one).
    /// </summary>
    public Task SyncAsync(PeerId peer, string room, CancellationToken cancellationToken)
    {
        if (_invalid.IsCutOff(peer))
            return Task.CompletedTask;
        return _turns.Run(peer, room, () => RunAsync(peer, room, cancellationToken), cancellationToken);
    }

    private async Task RunAsync(PeerId peer, string room, CancellationToken cancellationToken)
    {
        try
        {
            await FetchAsync(peer, room, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is IOException or ProtocolViolationException or MessageStoreException
                                      or InvalidOperationException or ObjectDisposedException or TimeoutException
                                      or OperationCanceledException)
        {
            Log.HistorySyncFailed(_logger, peer, room, e.Message);
        }
    }

    private async Task FetchAsync(PeerId peer, string room, CancellationToken cancellationToken)
    {
        string peerText = peer.ToString();
        DateTimeOffset now = _time.GetUtcNow();
        // Where the last sync with this peer ended: in its receive order, or (a peer that answers only
        // in time order) as a time, from a little before it since a message can reach the peer late.
        SyncPosition position = await _store.GetSyncPositionAsync(room, peerText, cancellationToken).ConfigureAwait(false)
                                ?? SyncPosition.Start;
        HistoryCursor? savedTime = await _store.GetSyncCursorAsync(room, peerText, cancellationToken).ConfigureAwait(false);
        HistoryCursor after = HistorySyncCursor.TimeOrderStart(savedTime, _options.Overlap, now);
        // The ids we hold that the peer would likely send again: what we received last, or for a
        // time-order peer what we hold from where it starts.
        IReadOnlyList<string> have = savedTime is not null && position.Epoch.Length == 0
            ? [.. (await _store.AfterAsync(room, after, MaxHaveIds, cancellationToken).ConfigureAwait(false)).Select(m => m.Id)]
            : await _store.LastReceivedIdsAsync(room, MaxHaveIds, cancellationToken).ConfigureAwait(false);
        P2PStream stream = await _host.OpenStreamAsync(peer, ProtocolId, cancellationToken).ConfigureAwait(false);
        int fetched = 0;
        try
        {
            HistoryRequest request = Request(room, after, position);
            request.Have.Add(LimitedPageBytes(stream.Connection) is { } haveBudget ? WithinBytes(have, haveBudget / 4) : have);
            for (int page = 0; page < _options.MaxPagesPerSync; page++)
            {
                // On a limited (relayed) connection no page is asked for in its last seconds, nor for more than
                // what remains of its data limit.
                if (stream.Connection.TimeRemaining is { } timeLeft && timeLeft < LimitedTimeReserve(stream.Connection))
                {
                    Log.HistorySyncDeferredTime(_logger, peer, room, timeLeft);
                    break;
                }
                if (LimitedPageBytes(stream.Connection) is { } budget)
                {
                    if (budget < MinPageBytes(stream.Connection))
                    {
                        Log.HistorySyncDeferred(_logger, peer, room, stream.Connection.DataRemaining ?? 0);
                        break;
                    }
                    request.MaxBytes = (uint)budget;
                    request.Limit = (uint)Math.Clamp(budget / TypicalMessageBytes, 1, MaxPageMessages);
                }
                using CancellationTokenSource deadline = new(_options.ResponseTimeout, _time);
                using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
                await stream.Output.WriteLengthPrefixedAsync(request.ToByteArray(), timeout.Token).ConfigureAwait(false);
                byte[] frame = await stream.Input.ReadLengthPrefixedAsync(MaxResponseBytes, ProtocolId, timeout.Token).ConfigureAwait(false)
                               ?? throw new UnexpectedEndException(ProtocolId);
                Interlocked.Add(ref _bytesReceived, Varint.GetByteCount((ulong)frame.Length) + frame.Length);
                HistoryResponse response = Parse(HistoryResponse.Parser, frame);
                if (response.Error.Length > 0)
                {
                    Log.HistoryRefused(_logger, peer, room, response.Error);
                    return;
                }
                if (response.RetryAfterMs > 0)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(response.RetryAfterMs, 5000)), _time, cancellationToken)
                        .ConfigureAwait(false);
                    continue;
                }
                if (response.Messages.Count > MaxPageMessages)
                    throw new ProtocolViolationException(ProtocolId, $"{response.Messages.Count} messages in one page");
                if (request.MaxBytes > 0 && response.Messages.Count == 0 && response.More)
                {
                    // The next message does not fit in what the limited connection has left: the next connection fetches it.
                    Log.HistorySyncDeferred(_logger, peer, room, stream.Connection.DataRemaining ?? 0);
                    break;
                }
                List<ChatMessage> valid = Verify(peer, room, response.Messages);
                HistoryReceipt receipt = new();
                HistoryPageFetched fetchedPage;
                if (response.Epoch.Length > 0)
                {
                    // The peer answered in its receive order: its position, not anybody's clock, is the cursor.
                    position = HistorySyncCursor.Next(position, response.Epoch, response.NextSeq, response.More)
                               ?? throw new ProtocolViolationException(ProtocolId, "the receive position did not move forward");
                    fetchedPage = new HistoryPageFetched(room, peerText, valid) { Position = position, Receipt = receipt };
                }
                else
                {
                    HistoryCursor next = new(response.NextTs, response.NextId);
                    if (response.More && next.CompareTo(after) <= 0)
                        throw new ProtocolViolationException(ProtocolId, "the cursor did not move forward");
                    fetchedPage = new HistoryPageFetched(room, peerText, valid)
                    {
                        TimeCursor = HistorySyncCursor.TimeOrderToStore(next, now), Receipt = receipt,
                    };
                    after = next;
                }
                // The chat stores the page with its position in one transaction; until it did, the
                // saved position stays before this page, and a refused page is fetched again next sync.
                await _post(fetchedPage, cancellationToken).ConfigureAwait(false);
                if (await receipt.Outcome.WaitAsync(cancellationToken).ConfigureAwait(false) is { } refused)
                    throw new MessageStoreException("the page was not stored: " + refused);
                fetched += receipt.Added;
                if (!response.More || _invalid.IsCutOff(peer))
                    break;
                request = Request(room, after, position);
            }
            await stream.CompleteOutputAsync().ConfigureAwait(false);
        }
        catch
        {
            stream.Reset();
            throw;
        }
        Log.HistorySynced(_logger, peer, room, fetched);
    }

    /// <summary>
    /// Bytes of a limited (relayed) connection's data kept for live text: a history page never takes them.
    /// A relay's circuit carries 128 KiB each way by default.
    /// </summary>
    public const int LimitedReserveBytes = 16 * 1024;

    /// <summary>
    /// The last seconds of a limited connection's duration limit, in which no history page is asked for
    /// (the relay could cut it mid-page): the circuit that replaces it goes on.
    /// </summary>
    public static readonly TimeSpan LimitedReserveTime = TimeSpan.FromSeconds(10);

    /// <summary><see cref="LimitedReserveTime"/>, at most a quarter of <paramref name="connection"/>'s duration limit.</summary>
    internal static TimeSpan LimitedTimeReserve(Connection connection) =>
        connection.Limit?.Duration is { } duration ? TimeSpan.FromTicks(Math.Min(LimitedReserveTime.Ticks, duration.Ticks / 4)) : TimeSpan.Zero;

    /// <summary>The smallest page worth asking for on a limited connection; below it the sync waits for the next connection.</summary>
    public const int MinLimitedPageBytes = 2 * 1024;

    /// <summary>What a message costs on the wire beyond its signed envelope (its protobuf fields, a share of the framing), counted within a byte bound.</summary>
    private const int FramingBytes = 32;

    /// <summary>The message size a page's count is estimated with on a limited connection (the byte bound is what holds).</summary>
    private const int TypicalMessageBytes = 512;

    /// <summary>
    /// The bytes of messages one page may carry on <paramref name="connection"/>: what remains of its data
    /// limit less <see cref="LimitedReserveBytes"/> (at most a quarter of the limit), at most <see cref="PageBytes"/>; null when it is not
    /// limited or its data limit is unknown.
    /// </summary>
    internal static int? LimitedPageBytes(Connection connection) =>
        connection.DataRemaining is { } remaining && connection.Limit?.DataBytes is { } limit
            ? (int)Math.Clamp(remaining - Math.Min(LimitedReserveBytes, limit / 4), 0, PageBytes) : null;

    /// <summary>
    /// The first of <paramref name="ids"/> that fit in <paramref name="bytes"/>: on a limited connection the
    /// ids we hold (a hint against pages of messages we have) take at most a quarter of a page's budget.
    /// </summary>
    private static List<string> WithinBytes(IReadOnlyList<string> ids, int bytes)
    {
        List<string> kept = [];
        int used = 0;
        foreach (string id in ids)
        {
            used += id.Length + 2;   // the field's tag and length
            if (used > bytes)
                break;
            kept.Add(id);
        }
        return kept;
    }

    /// <summary>
    /// <see cref="MinLimitedPageBytes"/>, at most an eighth of <paramref name="connection"/>'s data limit (a
    /// relay with a small limit still lets a page through on a fresh circuit).
    /// </summary>
    private static long MinPageBytes(Connection connection) =>
        Math.Min(MinLimitedPageBytes, (connection.Limit?.DataBytes ?? MinLimitedPageBytes * 8L) / 8);

    /// <summary>A request in both orders: a peer that knows receive order uses the position, an older one the time cursor.</summary>
    private static HistoryRequest Request(string room, HistoryCursor after, SyncPosition position) => new()
    {
        Room = room,
        AfterTs = after.TimestampMs,
        AfterId = after.Id,
        Limit = MaxPageMessages,
        ReceiveOrder = true,
        AfterEpoch = position.Epoch,
        AfterSeq = (ulong)Math.Max(0, position.Seq),
    };

    private List<ChatMessage> Verify(PeerId peer, string room, IEnumerable<SignedMessage> messages)
    {
        List<ChatMessage> valid = [];
        DateTimeOffset now = _time.GetUtcNow();
        foreach (SignedMessage m in messages)
        {
            SignedEnvelope envelope = new(m.From.ToByteArray(), m.Seqno.ToByteArray(), m.Data.ToByteArray(), m.Signature.ToByteArray(),
                m.Key.ToByteArray());
            // Without an author's Timestamp, the responder's time is all there is; never later than now.
            DateTimeOffset fallback = m.Ts > 0 && m.Ts < now.ToUnixTimeMilliseconds() ? DateTimeOffset.FromUnixTimeMilliseconds(m.Ts) : now;
            if (SignedRoomMessage.Open(room, envelope, fallback, out string? error) is { } message)
            {
                valid.Add(MessageClock.Clamp(message, now));
                continue;
            }
            int count = _invalid.Record(peer);
            _penalize(peer);
            Log.HistoryMessageRejected(_logger, peer, room, error ?? "invalid", count);
        }
        return valid;
    }

    /// <summary>Answers one peer's requests on one stream until it closes its side; reset when it idles (no request, no answer taken) for the idle timeout.</summary>
    public async Task HandleInboundAsync(P2PStream stream, CancellationToken outer)
    {
        PeerId peer = stream.RemotePeer;
        string address = HistoryServeLimits.AddressKey(stream.Connection.RemoteAddress);
        using IdleWatchdog idle = new(_serveIdleTimeout, _time, outer);
        CancellationToken cancellationToken = idle.Token;
        try
        {
            for (int served = 0; served < MaxRequestsPerStream; served++)
            {
                byte[]? frame = await stream.Input.ReadLengthPrefixedAsync(MaxRequestBytes, ProtocolId, cancellationToken)
                    .ConfigureAwait(false);
                if (frame is null)
                    break;
                HistoryRequest request = Parse(HistoryRequest.Parser, frame);
                // Served on a limited (relayed) connection, a page keeps within what remains of its data limit.
                if (LimitedPageBytes(stream.Connection) is { } budget && (request.MaxBytes == 0 || request.MaxBytes > budget))
                    request.MaxBytes = (uint)Math.Max(1, budget);
                HistoryResponse response = await AnswerAsync(peer, address, request, stream.Connection.HasSmallDataLimit, cancellationToken)
                    .ConfigureAwait(false);
                byte[] bytes = response.ToByteArray();
                Interlocked.Add(ref _bytesSent, Varint.GetByteCount((ulong)bytes.Length) + bytes.Length);
                await stream.Output.WriteLengthPrefixedAsync(bytes, cancellationToken).ConfigureAwait(false);
                idle.Progress();
            }
            await stream.CompleteOutputAsync().ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (idle.IdledOut)
        {
            Interlocked.Increment(ref _idleResets);
            Log.ServedStreamIdle(_logger, peer, ProtocolId, _serveIdleTimeout.TotalSeconds);
            stream.Reset();
        }
        catch (Exception e) when (e is IOException or ProtocolViolationException or MessageStoreException
                                      or ObjectDisposedException or InvalidOperationException
                                  || (e is OperationCanceledException && outer.IsCancellationRequested))
        {
            Log.HistoryServeEnded(_logger, peer, e.Message);
            stream.Reset();
        }
    }

    /// <param name="smallLimit">
    /// Served on a connection with a small data limit: the page leaves out the asker's own messages
    /// (it signed them, so it has them; each would cost the circuit a message's bytes again).
    /// </param>
    private async Task<HistoryResponse> AnswerAsync(PeerId peer, string address, HistoryRequest request, bool smallLimit,
        CancellationToken cancellationToken)
    {
        if (ChatLimits.CheckRoom(request.Room) is { } roomError)
            return new HistoryResponse { Error = roomError };
        if (request.Have.Count > MaxHaveIds)
            return new HistoryResponse { Error = $"more than {MaxHaveIds} ids in have" };
        // Per peer and per address: a request rate, and bytes a minute (a page's worth reserved now).
        if (_limits.TryAdmit(peer, address) is { } wait)
            return new HistoryResponse { RetryAfterMs = (uint)Math.Clamp(wait.TotalMilliseconds, 1, 60_000) };
        try
        {
            HistoryResponse answer = await PageAsync(request, smallLimit ? peer : null, cancellationToken).ConfigureAwait(false);
            _limits.Served(peer, address, answer.CalculateSize());
            return answer;
        }
        catch
        {
            _limits.Served(peer, address, 0);
            throw;
        }
    }

    private async Task<HistoryResponse> PageAsync(HistoryRequest request, PeerId? leaveOutAuthor, CancellationToken cancellationToken)
    {
        int limit = (int)Math.Clamp(request.Limit, 1, MaxPageMessages);
        HashSet<string> have = new(request.Have, StringComparer.Ordinal);
        HistoryResponse response;
        List<(ChatMessage Row, long Seq)> rows = [];
        if (request.ReceiveOrder)
        {
            ReceivedPage page = await _store.ReceivedAfterAsync(request.Room,
                    new SyncPosition(request.AfterEpoch, (long)Math.Min(request.AfterSeq, long.MaxValue)), limit, cancellationToken)
                .ConfigureAwait(false);
            SyncPosition start = HistorySyncCursor.ResponderStart(page.Epoch, request.AfterEpoch, request.AfterSeq);
            response = new HistoryResponse { More = page.Messages.Count == limit, Epoch = page.Epoch, NextSeq = (ulong)start.Seq };
            foreach (ReceivedMessage m in page.Messages)
                rows.Add((m.Message, m.Seq));
        }
        else
        {
            HistoryCursor after = new(request.AfterTs, request.AfterId);
            IReadOnlyList<ChatMessage> page = await _store.AfterAsync(request.Room, after, limit, cancellationToken).ConfigureAwait(false);
            response = new HistoryResponse { More = page.Count == limit, NextTs = after.TimestampMs, NextId = after.Id };
            foreach (ChatMessage m in page)
                rows.Add((m, 0));
        }
        int bytes = 0;
        int maxBytes = request.MaxBytes > 0 ? (int)Math.Min(request.MaxBytes, PageBytes) : PageBytes;
        foreach ((ChatMessage row, long seq) in rows)
        {
            // A page asked within a byte bound (a limited connection's) keeps strictly within it.
            bool leftOut = have.Contains(row.Id) || (leaveOutAuthor is not null && row.Envelope is { } own && leaveOutAuthor.Bytes.SequenceEqual(own.From));
            if (bytes >= PageBytes
                || (request.MaxBytes > 0 && row.Envelope is { } next && !leftOut && bytes + next.Size + FramingBytes > maxBytes))
            {
                response.More = true;
                break;
            }
            if (request.ReceiveOrder)
                response.NextSeq = (ulong)seq;
            else
                (response.NextTs, response.NextId) = (row.Timestamp.ToUnixTimeMilliseconds(), row.Id);
            // Only signed messages travel: an echo-go line has no author's signature to check.
            if (row.Envelope is not { } e || leftOut)
                continue;
            response.Messages.Add(new SignedMessage
            {
                From = ByteString.CopyFrom(e.From),
                Seqno = ByteString.CopyFrom(e.Seqno),
                Data = ByteString.CopyFrom(e.Data),
                Signature = ByteString.CopyFrom(e.Signature),
                Key = ByteString.CopyFrom(e.Key),
                Ts = row.Timestamp.ToUnixTimeMilliseconds(),
            });
            bytes += e.Size + (request.MaxBytes > 0 ? FramingBytes : 0);
        }
        return response;
    }

    private static T Parse<T>(MessageParser<T> parser, byte[] frame) where T : IMessage<T>
    {
        try
        {
            return parser.ParseFrom(frame);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new ProtocolViolationException(ProtocolId, "malformed frame: " + e.Message, e);
        }
    }
}
