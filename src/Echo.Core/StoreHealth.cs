using Echo.Core.Events;

namespace Echo.Core;

/// <summary>
/// Whether the store keeps what is shown. The user is told once, with the reason, when it stops
/// (disk full, read-only file), and once when it works again; in between, messages are shown marked
/// "not saved" and nothing is claimed stored.
/// </summary>
internal sealed class StoreHealth(Action<ChatEvent> publish)
{
    private readonly Lock _gate = new();
    private bool _failing;

    /// <summary>True while the last write failed.</summary>
    public bool IsFailing
    {
        get { lock (_gate) return _failing; }
    }

    /// <summary>A write failed: the first failure after success tells the user.</summary>
    public void Failed(string reason)
    {
        lock (_gate)
        {
            if (_failing)
                return;
            _failing = true;
        }
        publish(new ErrorEvent($"messages are not saved: {reason}"));
    }

    /// <summary>The user was already told why nothing is saved (the store's problem at start).</summary>
    public void AlreadyTold()
    {
        lock (_gate)
            _failing = true;
    }

    /// <summary>A write succeeded: after failures, the user hears that saving works again.</summary>
    public void Succeeded()
    {
        lock (_gate)
        {
            if (!_failing)
                return;
            _failing = false;
        }
        publish(new NoticeEvent("messages are saved again"));
    }
}
