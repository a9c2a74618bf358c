using Echo.Net.Multiformats;
using Echo.Net.Transport.Tcp;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Net.DnsAddr;

/// <summary>
/// Resolves <c>/dnsaddr/&lt;domain&gt;</c> multiaddrs (multiformats/multiaddr protocols/DNSADDR.md;
/// libp2p addressing, "dnsaddr Links"): the TXT records of <c>_dnsaddr.&lt;domain&gt;</c> that start
/// with <c>dnsaddr=</c> each hold one multiaddr, which may itself be a <c>/dnsaddr</c> (resolved in
/// turn, to <see cref="DnsAddrOptions.MaxDepth"/> lookups deep, each name once).
/// </summary>
/// <remarks>
/// What follows the name in the address asked for (usually <c>/p2p/&lt;id&gt;</c>) must end every
/// record kept, so the records of other peers published under the same name are dropped. Only
/// addresses Echo can dial are returned: TCP over <c>/ip4</c>, <c>/ip6</c> or <c>/dns*</c>; QUIC,
/// WebSocket, WebTransport and WebRTC records are skipped. A record that is not a multiaddr is
/// skipped with a warning naming it; the others are resolved. Bounded by <see cref="DnsAddrOptions"/>.
/// </remarks>
public sealed class DnsAddrResolver
{
    private const string Prefix = "dnsaddr=";

    private readonly ITxtLookup _lookup;
    private readonly DnsAddrOptions _options;
    private readonly ILogger _logger;

    public DnsAddrResolver(ITxtLookup lookup, DnsAddrOptions? options = null, ILogger? logger = null)
    {
        _lookup = lookup;
        _options = options ?? new DnsAddrOptions();
        _options.Validate();
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>Whether <paramref name="address"/> starts with <c>/dnsaddr</c> and needs resolving.</summary>
    public static bool IsDnsAddr(Multiaddr address)
    {
        ArgumentNullException.ThrowIfNull(address);
        return address.Components.Count > 0 && ReferenceEquals(address.Components[0].Protocol, MultiaddrProtocol.DnsAddr);
    }

    /// <summary>Whether Echo can dial <paramref name="address"/> as it is: TCP over an IP address or a DNS name, optionally with <c>/p2p</c>.</summary>
    public static bool IsDialable(Multiaddr address)
    {
        ArgumentNullException.ThrowIfNull(address);
        return TcpTransport.CanHandle(address);
    }

    /// <summary>
    /// The dialable addresses <paramref name="address"/> stands for: itself when it is one, nothing
    /// when it is another transport, and for a <c>/dnsaddr</c> what its records resolve to (in the
    /// order found, each once).
    /// </summary>
    /// <exception cref="DnsLookupException">Nothing was found and a lookup failed (the resolver did not answer in time, or failed).</exception>
    public async Task<IReadOnlyList<Multiaddr>> ResolveAsync(Multiaddr address, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (!IsDnsAddr(address))
            return IsDialable(address) ? [address] : [];
        using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.Timeout);
        Resolution state = new();
        try
        {
            await ResolveIntoAsync(address, 1, state, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            state.Failure ??= $"not resolved within {_options.Timeout.TotalSeconds:0.#} s";
            Log.LimitReached(_logger, address.ToString(), state.Failure);
        }
        if (state.Found.Count == 0 && state.Failure is not null)
            throw new DnsLookupException($"{address}: {state.Failure}");
        Log.Resolved(_logger, address.ToString(), state.Found.Count);
        return state.Found;
    }

    private sealed class Resolution
    {
        public List<Multiaddr> Found { get; } = [];
        public HashSet<string> Queried { get; } = new(StringComparer.OrdinalIgnoreCase);
        public int Lookups { get; set; }
        public string? Failure { get; set; }
    }

    private async Task ResolveIntoAsync(Multiaddr address, int depth, Resolution state, CancellationToken cancellationToken)
    {
        string domain = address.Components[0].ValueText!.TrimEnd('.');
        if (depth > _options.MaxDepth)
        {
            Log.LimitReached(_logger, domain, $"more than {_options.MaxDepth} dnsaddr lookups deep");
            return;
        }
        if (!state.Queried.Add(domain))
        {
            Log.LimitReached(_logger, domain, "already looked up in this resolution (a loop or a repeat)");
            return;
        }
        if (state.Lookups >= _options.MaxLookups)
        {
            Log.LimitReached(_logger, domain, $"{_options.MaxLookups} lookups made already");
            return;
        }
        state.Lookups++;
        string name = "_dnsaddr." + domain;
        IReadOnlyList<string> records;
        try
        {
            records = await _lookup.LookupTxtAsync(name, cancellationToken).ConfigureAwait(false);
        }
        catch (DnsLookupException e)
        {
            state.Failure ??= e.Message;
            Log.LookupFailed(_logger, name, e.Message);
            return;
        }
        MultiaddrComponent[] suffix = [.. address.Components.Skip(1)];
        int taken = 0;
        foreach (string record in records)
        {
            if (!record.StartsWith(Prefix, StringComparison.Ordinal))
                continue;   // other TXT records share the name (none are ours to read)
            if (++taken > _options.MaxRecordsPerAnswer)
            {
                Log.LimitReached(_logger, domain, $"more than {_options.MaxRecordsPerAnswer} dnsaddr records; the rest ignored");
                break;
            }
            if (state.Found.Count >= _options.MaxAddresses)
            {
                Log.LimitReached(_logger, domain, $"{_options.MaxAddresses} addresses found already");
                return;
            }
            string text = record[Prefix.Length..].Trim();
            if (!Multiaddr.TryParse(text, out Multiaddr? entry, out string? error) || entry is null)
            {
                Log.MalformedRecord(_logger, name, Printable(text), error ?? "invalid");
                continue;
            }
            if (!EndsWith(entry, suffix))
            {
                Log.RecordSkipped(_logger, name, entry.ToString(), $"does not end in {MultiaddrCodec.Format(suffix)}");
                continue;
            }
            if (IsDnsAddr(entry))
                await ResolveIntoAsync(entry, depth + 1, state, cancellationToken).ConfigureAwait(false);
            else if (!IsDialable(entry))
                Log.RecordSkipped(_logger, name, entry.ToString(), "a transport Echo does not speak");
            else if (!state.Found.Contains(entry))
                state.Found.Add(entry);
        }
    }

    private static bool EndsWith(Multiaddr address, MultiaddrComponent[] suffix)
    {
        IReadOnlyList<MultiaddrComponent> components = address.Components;
        if (components.Count < suffix.Length)
            return false;
        for (int i = 0; i < suffix.Length; i++)
        {
            if (!components[components.Count - suffix.Length + i].Equals(suffix[i]))
                return false;
        }
        return true;
    }

    /// <summary>A record for a log line: control characters escaped, at most 200 characters.</summary>
    private static string Printable(string text)
    {
        string shown = text.Length > 200 ? text[..200] + "…" : text;
        return string.Concat(shown.Select(c => char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString()));
    }
}
