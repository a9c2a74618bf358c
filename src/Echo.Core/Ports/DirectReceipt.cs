namespace Echo.Core.Ports;

/// <summary>
/// What became of a direct message that arrived: the chat settles it once the message is durably
/// stored (or found already stored), or refuses it with a reason; the network acknowledges the
/// message to its sender only when it was stored. The first outcome wins.
/// </summary>
public sealed class DirectReceipt
{
    private readonly TaskCompletionSource<string?> _outcome = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes with null once stored, or with why it was not.</summary>
    public Task<string?> Outcome => _outcome.Task;

    /// <summary>The message is on disk (now, or from an earlier copy).</summary>
    public void Stored() => _outcome.TrySetResult(null);

    /// <summary>The message was not stored: the sender keeps it and sends it again later.</summary>
    public void Refused(string reason) => _outcome.TrySetResult(reason);
}
