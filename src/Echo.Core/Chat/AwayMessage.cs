namespace Echo.Core.Chat;

/// <summary>The /away message's limits: one short line, as our own and as peers announce it.</summary>
public static class AwayMessage
{
    /// <summary>Longest away message, in characters.</summary>
    public const int MaxLength = 200;

    /// <summary>Null when <paramref name="reason"/> may be an away message, else why not.</summary>
    public static string? Check(string reason)
    {
        if (string.IsNullOrWhiteSpace(reason))
            return "the away message is empty";
        if (reason.Length > MaxLength)
            return $"the away message is {reason.Length} characters; the limit is {MaxLength}";
        foreach (char c in reason)
        {
            if (char.IsControl(c))
                return $"the away message may not contain {SafeText.Describe(c)}";
        }
        return null;
    }
}
