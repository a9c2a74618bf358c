namespace Echo.Net.DnsAddr;

/// <summary>A source of DNS TXT records (a unicast resolver, or a fake in tests).</summary>
public interface ITxtLookup
{
    /// <summary>
    /// The TXT records of <paramref name="name"/>, one string each (a record's character-strings
    /// joined, as RFC 7208 3.3 does for long values); empty when the name has none or does not exist.
    /// </summary>
    /// <exception cref="DnsLookupException">The resolver did not answer, or answered with an error other than "no such name".</exception>
    Task<IReadOnlyList<string>> LookupTxtAsync(string name, CancellationToken cancellationToken);
}

/// <summary>A DNS query that failed (no answer in time, a server failure, a refused query).</summary>
public sealed class DnsLookupException : Exception
{
    public DnsLookupException()
    {
    }

    public DnsLookupException(string message) : base(message)
    {
    }

    public DnsLookupException(string message, Exception innerException) : base(message, innerException)
    {
    }
}
