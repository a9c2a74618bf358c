using System.Collections.Concurrent;
using Echo.Net.DnsAddr;

namespace Echo.Net.Tests.DnsAddr;

/// <summary>TXT records from a table; names it lacks have none. Records every question, in order.</summary>
internal sealed class FakeTxtLookup(Dictionary<string, string[]> records) : ITxtLookup
{
    public ConcurrentQueue<string> Questions { get; } = new();

    /// <summary>Names whose lookup fails as an unanswered query would.</summary>
    public HashSet<string> Failing { get; } = [];

    /// <summary>Names whose lookup never answers (until cancelled).</summary>
    public HashSet<string> Hanging { get; } = [];

    public async Task<IReadOnlyList<string>> LookupTxtAsync(string name, CancellationToken cancellationToken)
    {
        Questions.Enqueue(name);
        if (Hanging.Contains(name))
            await Task.Delay(Timeout.Infinite, cancellationToken);
        if (Failing.Contains(name))
            throw new DnsLookupException($"TXT {name}: no answer");
        return records.TryGetValue(name, out string[]? texts) ? texts : [];
    }
}
