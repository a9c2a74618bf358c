namespace Echo.Net.Pubsub;

/// <summary>What an application validator decides about a message (gossipsub v1.1 "Extended Validators").</summary>
public enum ValidationResult
{
    /// <summary>Deliver and forward it.</summary>
    Accept,

    /// <summary>Invalid: neither delivered nor forwarded, and the peer that sent it is penalised (P4).</summary>
    Reject,

    /// <summary>Neither delivered nor forwarded, without penalty.</summary>
    Ignore,
}
