namespace Echo.Net.Yamux;

/// <summary>
/// A yamux stream was reset (RST from either side) or its session ended before the stream did.
/// Reads and writes on that stream throw it; the session and its other streams carry on.
/// </summary>
/// <remarks>
/// An <see cref="IOException"/>, not a <see cref="ProtocolViolationException"/>: resetting a stream is
/// legitimate peer behaviour (a refused stream, an aborted request), so it must not be counted or
/// logged as a broken rule, and code that already treats <see cref="IOException"/> as "the stream
/// died" (including <c>PipeReader.AsStream()</c> users) handles it without knowing about yamux.
/// </remarks>
public sealed class StreamResetException(uint streamId, string message, Exception? inner = null)
    : IOException($"{YamuxOptions.ProtocolId}: stream {streamId} {message}", inner)
{
    public uint StreamId { get; } = streamId;
}
