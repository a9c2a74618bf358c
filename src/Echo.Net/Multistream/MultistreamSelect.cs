using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.IO.Pipelines;
using System.Text;
using Echo.Net.Framing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Net.Multistream;

/// <summary>
/// multistream-select 1.0 (https://github.com/libp2p/specs/blob/master/connections/README.md#protocol-negotiation,
/// https://github.com/multiformats/multistream-select): agrees on the protocol a fresh channel, a raw
/// connection or a new muxed stream, will speak from now on.
/// </summary>
/// <remarks>
/// Both sides send the header; the initiator proposes protocol ids one at a time and the responder
/// echoes the one it accepts or answers "na". After the echo the channel belongs to the selected
/// protocol; there is no trailer.
/// <code>
///   message = uvarint(len) || UTF-8 text || 0a          len counts the 0a; at most 1024
///   "/multistream/1.0.0"   13 2f6d756c746973747265616d2f312e302e30 0a
///   "na"                   03 6e61 0a
///
///   initiator                                   responder
///   header, "/tls/1.0.0"  ------------------>
///                         <------------------   header    (go at once; js and rust after ours)
///                         <------------------   "na"
///   "/noise"              ------------------>
///                         <------------------   "/noise"
///   Noise handshake ...
/// </code>
/// Both roles read one message at a time and consume nothing past it, so whatever the peer sent
/// after its last negotiation message stays in the pipe for the next layer: a lazy initiator (go's
/// NewStream, rust's V1Lazy) sends Noise message 1 or application data right behind its proposal.
/// Timeouts are the caller's, through the token.
/// </remarks>
internal static class MultistreamSelect
{
    public const string ProtocolId = "/multistream/1.0.0";

    /// <summary>go-multistream and js reject longer messages (rust allows 16 383), so we never need more.</summary>
    public const int MaxMessageLength = 1024;

    /// <summary>
    /// How many proposals a responder answers before giving up, so a peer cannot keep a channel
    /// busy forever. Real initiators propose one or two (go: "/tls/1.0.0" then "/noise").
    /// </summary>
    public const int MaxProposals = 64;

    private const string NotAvailable = "na";
    private const string List = "ls";

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// Initiator: proposes <paramref name="protocols"/> in order and returns the one the responder
    /// accepted. Throws <see cref="ProtocolNotSupportedException"/> when every proposal got "na".
    /// </summary>
    public static Task<string> SelectAsync(IDuplexPipe channel, IReadOnlyList<string> protocols,
        CancellationToken cancellationToken) =>
        SelectAsync(channel, protocols, NullLogger.Instance, cancellationToken);

    /// <inheritdoc cref="SelectAsync(IDuplexPipe, IReadOnlyList{string}, CancellationToken)"/>
    public static async Task<string> SelectAsync(IDuplexPipe channel, IReadOnlyList<string> protocols,
        ILogger logger, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(channel);
        ArgumentNullException.ThrowIfNull(protocols);
        ArgumentNullException.ThrowIfNull(logger);
        if (protocols.Count == 0)
            throw new ArgumentException("propose at least one protocol", nameof(protocols));
        foreach (string protocol in protocols)
            CheckOwnProtocolId(protocol, nameof(protocols));

        try
        {
            // Header and first proposal in one flush, without waiting for the responder's header:
            // js and rust responders send nothing until they have read ours.
            WriteMessage(channel.Output, ProtocolId);
            WriteMessage(channel.Output, protocols[0]);
            await channel.Output.FlushAsync(cancellationToken).ConfigureAwait(false);

            string header = await ReadMessageAsync(channel.Input, cancellationToken).ConfigureAwait(false);
            if (header != ProtocolId)
                throw new ProtocolViolationException(ProtocolId, "the responder's first message is not the multistream header");

            int current = 0;
            while (true)
            {
                string reply = await ReadMessageAsync(channel.Input, cancellationToken).ConfigureAwait(false);
                if (reply == protocols[current])
                {
                    Log.Selected(logger, reply);
                    return reply;
                }
                if (reply != NotAvailable)
                    throw new ProtocolViolationException(ProtocolId, $"unexpected reply to the proposal {protocols[current]}");
                Log.ProposalRefused(logger, protocols[current]);
                if (++current == protocols.Count)
                    throw new ProtocolNotSupportedException([.. protocols]);
                WriteMessage(channel.Output, protocols[current]);
                await channel.Output.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (ProtocolViolationException e)
        {
            Log.NegotiationFailed(logger, "initiator", e.Message);
            throw;
        }
    }

    /// <summary>
    /// Responder: answers proposals until one satisfies <paramref name="isSupported"/>, echoes it and
    /// returns it. Everything else, "ls" included, gets "na".
    /// </summary>
    public static Task<string> ListenAsync(IDuplexPipe channel, Func<string, bool> isSupported,
        CancellationToken cancellationToken) =>
        ListenAsync(channel, isSupported, NullLogger.Instance, cancellationToken);

    /// <inheritdoc cref="ListenAsync(IDuplexPipe, Func{string, bool}, CancellationToken)"/>
    public static async Task<string> ListenAsync(IDuplexPipe channel, Func<string, bool> isSupported,
        ILogger logger, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(channel);
        ArgumentNullException.ThrowIfNull(isSupported);
        ArgumentNullException.ThrowIfNull(logger);

        try
        {
            // Our header goes out at once, as go does: initiators never wait for it anyway.
            WriteMessage(channel.Output, ProtocolId);
            await channel.Output.FlushAsync(cancellationToken).ConfigureAwait(false);

            string header = await ReadMessageAsync(channel.Input, cancellationToken).ConfigureAwait(false);
            if (header != ProtocolId)
                throw new ProtocolViolationException(ProtocolId, "the initiator's first message is not the multistream header");

            List<string> proposed = [];
            while (true)
            {
                if (proposed.Count == MaxProposals)
                    throw new ProtocolViolationException(ProtocolId, $"more than {MaxProposals} proposals");
                string proposal;
                try
                {
                    proposal = await ReadProposalAsync(channel.Input, cancellationToken).ConfigureAwait(false);
                }
                catch (ProtocolViolationException e) when (proposed.Count > 0)
                {
                    // After an "na" the initiator may have given up, or these are a lazy initiator's
                    // bytes for the protocol we refused (rust reads them the same way): either way
                    // there is no agreement, which is not the same as garbage.
                    throw new ProtocolNotSupportedException(proposed, e);
                }
                proposed.Add(proposal);
                // "ls" is optional and go no longer answers it either: "na" is a valid reply.
                if (proposal != List && isSupported(proposal))
                {
                    WriteMessage(channel.Output, proposal);
                    await channel.Output.FlushAsync(cancellationToken).ConfigureAwait(false);
                    Log.Accepted(logger, proposal);
                    return proposal;
                }
                WriteMessage(channel.Output, NotAvailable);
                await channel.Output.FlushAsync(cancellationToken).ConfigureAwait(false);
                Log.AnsweredNotAvailable(logger, proposal);
            }
        }
        catch (ProtocolViolationException e)
        {
            Log.NegotiationFailed(logger, "responder", e.Message);
            throw;
        }
    }

    /// <summary>
    /// Slices one message off the front of <paramref name="buffer"/> and returns its text without the
    /// newline. Returns false when more bytes are needed (the buffer is left alone); throws
    /// <see cref="ProtocolViolationException"/> for an oversized, unterminated or non-UTF-8 message.
    /// </summary>
    public static bool TryReadMessage(ref ReadOnlySequence<byte> buffer, [NotNullWhen(true)] out string? text)
    {
        text = null;
        ReadOnlySequence<byte> rest = buffer;
        if (!LengthPrefixed.TryRead(ref rest, MaxMessageLength, ProtocolId, out ReadOnlySequence<byte> message))
            return false;
        if (message.IsEmpty || message.Slice(message.Length - 1).FirstSpan[0] != (byte)'\n')
            throw new ProtocolViolationException(ProtocolId, "message does not end with a newline");
        try
        {
            text = StrictUtf8.GetString(message.Slice(0, message.Length - 1));
        }
        catch (DecoderFallbackException e)
        {
            throw new ProtocolViolationException(ProtocolId, "message is not valid UTF-8", e);
        }
        buffer = rest;
        return true;
    }

    /// <summary>Encodes <paramref name="text"/> as one framed message: <c>uvarint(len) || text || 0a</c>.</summary>
    public static byte[] EncodeMessage(string text)
    {
        byte[] payload = new byte[StrictUtf8.GetByteCount(text) + 1];
        StrictUtf8.GetBytes(text, payload);
        payload[^1] = (byte)'\n';
        return LengthPrefixed.Encode(payload);
    }

    private static void WriteMessage(PipeWriter output, string text) => output.Write(EncodeMessage(text));

    private static async ValueTask<string> ReadProposalAsync(PipeReader input, CancellationToken cancellationToken)
    {
        string proposal = await ReadMessageAsync(input, cancellationToken).ConfigureAwait(false);
        if (proposal != List && !proposal.StartsWith('/'))
            throw new ProtocolViolationException(ProtocolId, "proposed protocol id does not start with '/'");
        return proposal;
    }

    private static async ValueTask<string> ReadMessageAsync(PipeReader input, CancellationToken cancellationToken)
    {
        while (true)
        {
            ReadResult result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            bool found = false;
            try
            {
                if (TryReadMessage(ref buffer, out string? text))
                {
                    found = true;
                    return text;
                }
                if (result.IsCanceled)
                    throw new OperationCanceledException("the pending read was canceled", cancellationToken);
                if (result.IsCompleted)
                    throw new UnexpectedEndException(ProtocolId);
            }
            finally
            {
                // On success mark only the message as examined: bytes the peer sent behind it must
                // wake the next reader at once, not wait for more data to arrive.
                if (found)
                    input.AdvanceTo(buffer.Start);
                else
                    input.AdvanceTo(buffer.Start, buffer.End);
            }
        }
    }

    private static void CheckOwnProtocolId(string protocol, string paramName)
    {
        ArgumentNullException.ThrowIfNull(protocol, paramName);
        if (!protocol.StartsWith('/') || protocol.Contains('\n'))
            throw new ArgumentException($"'{protocol}' is not a protocol id: it must start with '/' and hold no newline", paramName);
        int length;
        try
        {
            length = StrictUtf8.GetByteCount(protocol) + 1;
        }
        catch (EncoderFallbackException e)
        {
            throw new ArgumentException($"'{protocol}' is not valid Unicode", paramName, e);
        }
        if (length > MaxMessageLength)
            throw new ArgumentException($"protocol id is longer than {MaxMessageLength - 1} bytes", paramName);
    }
}
