namespace Echo.Net.Multistream;

/// <summary>
/// multistream-select ended without a protocol both sides speak: as initiator, the responder
/// answered "na" to every proposal; as responder, the initiator gave up (closed the channel or sent
/// something other than a proposal) after we answered "na".
/// </summary>
public sealed class ProtocolNotSupportedException(IReadOnlyList<string> protocols, Exception? inner = null)
    : ProtocolViolationException(MultistreamSelect.ProtocolId, Describe(protocols), inner)
{
    // Only the first few names go in the message: a responder may have heard 64 proposals of 1 KiB.
    private const int NamesInMessage = 8;

    /// <summary>Every protocol proposed, in order.</summary>
    public IReadOnlyList<string> Protocols { get; } = protocols;

    private static string Describe(IReadOnlyList<string> protocols) =>
        "no protocol agreed; proposed: " + string.Join(", ", protocols.Take(NamesInMessage))
        + (protocols.Count > NamesInMessage ? $" and {protocols.Count - NamesInMessage} more" : "");
}
