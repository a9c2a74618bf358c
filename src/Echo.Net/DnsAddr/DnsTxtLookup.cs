using System.Net;
using DnsClient;
using DnsClient.Protocol;

namespace Echo.Net.DnsAddr;

/// <summary>
/// TXT queries over unicast DNS (DnsClient): to the system's resolvers (<c>/etc/resolv.conf</c>), or
/// to one given server (<c>--dns</c>). Answers are cached for their TTL; a truncated UDP answer is
/// asked again over TCP.
/// </summary>
public sealed class DnsTxtLookup : ITxtLookup
{
    private readonly LookupClient _client;

    /// <param name="server">The resolver to ask; null asks the system's.</param>
    /// <param name="timeout">How long one query may wait for an answer (each of <paramref name="retries"/> + 1 tries).</param>
    /// <param name="retries">Tries after the first when a query goes unanswered.</param>
    public DnsTxtLookup(IPEndPoint? server, TimeSpan timeout, int retries = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfNegative(retries);
        LookupClientOptions options = server is null ? new LookupClientOptions() : new LookupClientOptions(server);
        options.Timeout = timeout;
        options.Retries = retries;
        options.UseCache = true;
        options.UseTcpFallback = true;
        options.ThrowDnsErrors = false;
        options.ContinueOnDnsError = true;
        _client = new LookupClient(options);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<string>> LookupTxtAsync(string name, CancellationToken cancellationToken)
    {
        IDnsQueryResponse response;
        try
        {
            response = await _client.QueryAsync(name, QueryType.TXT, QueryClass.IN, cancellationToken).ConfigureAwait(false);
        }
        catch (DnsResponseException e)
        {
            throw new DnsLookupException($"TXT {name}: {e.Message}", e);
        }
        if (response.HasError && response.Header.ResponseCode != DnsHeaderResponseCode.NotExistentDomain)
            throw new DnsLookupException($"TXT {name}: {response.ErrorMessage}");
        List<string> records = [];
        foreach (TxtRecord record in response.Answers.TxtRecords())
            records.Add(string.Concat(record.Text));
        return records;
    }
}
