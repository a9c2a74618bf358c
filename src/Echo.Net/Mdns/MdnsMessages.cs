using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Makaretu.Dns;

namespace Echo.Net.Mdns;

/// <summary>
/// The libp2p mDNS records (discovery/mdns.md) on top of Makaretu.Dns's message codec: building
/// our query and our answer, and reading other peers' answers. Pure functions over bytes.
/// </summary>
/// <remarks>
/// Implementations disagree on the layout, so we write the strictest one and read leniently.
/// go-libp2p (zeroconf) takes the PTR from the answer section, needs SRV and A/AAAA besides the TXT,
/// and keeps only the last TXT record of an instance; rust-libp2p points the PTR at a bare label;
/// js-libp2p puts its TXT records in the answer section and sends neither SRV nor A. So an answer
/// of ours is the PTR in the answer section and one TXT (every <c>dnsaddr=</c> string), an SRV
/// and the A/AAAA records in the additional section; reading takes TXT from either section,
/// matched to the PTR's target by name or, failing that, by its first label, and needs no SRV or A.
/// </remarks>
public static class MdnsMessages
{
    /// <summary>The largest packet read (RFC 6762 allows 9000 bytes); larger ones are dropped whole.</summary>
    public const int MaxPacketBytes = 9000;

    /// <summary>At most this many peers are read from one packet.</summary>
    public const int MaxInstancesPerPacket = 32;

    /// <summary>A TXT string holds at most 255 bytes (RFC 1035); longer addresses are not advertised.</summary>
    public const int MaxTxtStringBytes = 255;

    /// <summary>At most this many TXT strings are looked at per instance (we send at most 12 addresses).</summary>
    public const int MaxTxtStringsPerInstance = 32;

    public const string DnsaddrPrefix = "dnsaddr=";

    /// <summary>A query for the PTR records of <paramref name="serviceNames"/> (the libp2p one must come first: js only reads the first question).</summary>
    public static byte[] BuildQuery(IReadOnlyList<string> serviceNames)
    {
        Message query = new() { Id = 0 };
        foreach (string service in serviceNames)
            query.Questions.Add(new Question { Name = service, Type = DnsType.PTR, Class = DnsClass.IN });
        return query.ToByteArray();
    }

    /// <summary>
    /// Our answer under <paramref name="serviceName"/>: <c>service PTR peer.service</c> in the answer
    /// section; <c>peer.service TXT dnsaddr=…</c>, <c>peer.service SRV port peer.local</c> and
    /// <c>peer.local A/AAAA</c> in the additional section. <paramref name="addresses"/> end in /p2p/.
    /// A <paramref name="ttl"/> of zero says goodbye.
    /// </summary>
    public static byte[] BuildResponse(string serviceName, string peerName, IReadOnlyList<Multiaddr> addresses, TimeSpan ttl)
    {
        DomainName service = new(serviceName);
        DomainName instance = DomainName.Join(new DomainName(peerName), service);
        DomainName host = DomainName.Join(new DomainName(peerName), new DomainName("local"));
        Message response = new() { Id = 0, QR = true, AA = true };
        response.Answers.Add(new PTRRecord { Name = service, DomainName = instance, TTL = ttl });
        TXTRecord txt = new() { Name = instance, TTL = ttl };
        ushort port = 0;
        List<IPAddress> ips = [];
        foreach (Multiaddr address in addresses)
        {
            string text = DnsaddrPrefix + address;
            if (Encoding.UTF8.GetByteCount(text) > MaxTxtStringBytes)
                continue;
            txt.Strings.Add(text);
            if (address.TryGetTcpEndPoint(out IPEndPoint? endPoint) && endPoint is not null)
            {
                if (port == 0)
                    port = (ushort)endPoint.Port;
                if (!ips.Contains(endPoint.Address))
                    ips.Add(endPoint.Address);
            }
        }
        response.AdditionalRecords.Add(txt);
        response.AdditionalRecords.Add(new SRVRecord { Name = instance, Target = host, Port = port, TTL = ttl });
        foreach (IPAddress ip in ips)
        {
            ResourceRecord record = AddressRecord.Create(host, ip);
            record.TTL = ttl;
            response.AdditionalRecords.Add(record);
        }
        return response.ToByteArray();
    }

    /// <summary>
    /// Decodes a packet; null when it is too long, its header claims more entries than it could hold
    /// (checked before decoding: a question takes at least 5 bytes, a record 11), or it is not a DNS
    /// message (whatever the codec throws).
    /// </summary>
    public static Message? TryRead(ReadOnlySpan<byte> packet)
    {
        if (packet.Length is < 12 or > MaxPacketBytes)
            return null;
        long questions = BinaryPrimitives.ReadUInt16BigEndian(packet[4..]);
        long records = BinaryPrimitives.ReadUInt16BigEndian(packet[6..]) + BinaryPrimitives.ReadUInt16BigEndian(packet[8..])
            + BinaryPrimitives.ReadUInt16BigEndian(packet[10..]);
        if (12 + (questions * 5) + (records * 11) > packet.Length)
            return null;
        try
        {
            Message message = new();
            byte[] bytes = packet.ToArray();
            message.Read(bytes, 0, bytes.Length);
            return message;
        }
#pragma warning disable CA1031 // bytes from the network: any failure of the codec means "not a message we can use"
        catch (Exception)
#pragma warning restore CA1031
        {
            return null;
        }
    }

    /// <summary>
    /// The first label of each of <paramref name="serviceNames"/> as it appears on the wire (its
    /// length byte, then its bytes), for <see cref="MayConcern"/>.
    /// </summary>
    public static byte[][] FirstLabels(IReadOnlyList<string> serviceNames) =>
        [.. serviceNames.Select(s => new DomainName(s).Labels[0]).Distinct(StringComparer.OrdinalIgnoreCase)
            .Select(label => (byte[])[(byte)Encoding.UTF8.GetByteCount(label), .. Encoding.UTF8.GetBytes(label)])];

    /// <summary>
    /// Whether a packet may be a query or an answer about one of our services, without decoding it:
    /// such a packet names the service, so the service name's first label (see
    /// <see cref="FirstLabels"/>) is spelled out in it somewhere, in any case (compression only
    /// points back at names written earlier). A packet without it (other services, A records,
    /// noise) is not worth decoding.
    /// </summary>
    public static bool MayConcern(ReadOnlySpan<byte> packet, byte[][] firstLabels)
    {
        if (packet.Length <= 12)
            return false;
        foreach (byte[] label in firstLabels)
        {
            ReadOnlySpan<byte> rest = packet[12..];
            ReadOnlySpan<byte> text = label.AsSpan(1);
            for (int at = rest.IndexOf(label[0]); at >= 0; at = rest.IndexOf(label[0]))
            {
                rest = rest[(at + 1)..];
                if (rest.Length >= text.Length && Ascii.EqualsIgnoreCase(rest[..text.Length], text))
                    return true;
            }
        }
        return false;
    }

    /// <summary>Which of <paramref name="serviceNames"/> a query asks for (PTR or ANY questions).</summary>
    public static IReadOnlyList<string> QueriedServices(Message query, IReadOnlyList<string> serviceNames)
    {
        List<string> asked = [];
        if (!query.IsQuery)
            return asked;
        foreach (Question question in query.Questions)
        {
            if (question.Type is not (DnsType.PTR or DnsType.ANY))
                continue;
            foreach (string service in serviceNames)
            {
                if (question.Name == new DomainName(service) && !asked.Contains(service))
                    asked.Add(service);
            }
        }
        return asked;
    }

    /// <summary>
    /// The peers a response describes under any of <paramref name="serviceNames"/>. Each gets the
    /// peer id of its first usable address; addresses naming another peer, not TCP over IPv4/IPv6 or
    /// beyond <paramref name="maxAddresses"/> are dropped, and an instance left without any is skipped.
    /// </summary>
    /// <remarks>
    /// Cheap for hostile packets: every record name is rendered once and matched through a dictionary
    /// (no pairwise comparisons), at most <see cref="MaxInstancesPerPacket"/> instances and
    /// <see cref="MaxTxtStringsPerInstance"/> strings of each are looked at, a string is parsed only
    /// when it starts with <c>dnsaddr=</c>, and after an instance's first address only strings ending
    /// in the same <c>/p2p/</c> id are.
    /// </remarks>
    public static IReadOnlyList<MdnsAnnouncement> ReadAnnouncements(Message response, IReadOnlyList<string> serviceNames, int maxAddresses)
    {
        List<MdnsAnnouncement> found = [];
        if (!response.IsResponse)
            return found;
        List<(string Service, PTRRecord Ptr, string Target)> pointers = [];
        foreach (ResourceRecord record in response.Answers)
        {
            if (record is not PTRRecord { DomainName: { } target } ptr || ServiceOf(ptr.Name, serviceNames) is not { } service)
                continue;
            pointers.Add((service, ptr, target.ToString()));
            if (pointers.Count == MaxInstancesPerPacket)
                break;
        }
        if (pointers.Count == 0)
            return found;
        TxtIndex texts = new(response);
        foreach ((string service, PTRRecord ptr, string target) in pointers)
        {
            List<TXTRecord> mine = texts.For(target, ptr.DomainName);
            if (mine.Count == 0 && pointers.Count == 1)
                mine = texts.All;           // js names its TXT records freely; with one instance they are its
            if (mine.Count == 0)
                continue;
            (PeerId? peer, List<Multiaddr> addresses) = ReadAddresses(mine, maxAddresses);
            if (peer is null)
                continue;
            double seconds = ptr.TTL.TotalSeconds;
            foreach (TXTRecord txt in mine)
                seconds = Math.Min(seconds, txt.TTL.TotalSeconds);
            TimeSpan ttl = TimeSpan.FromSeconds(seconds);
            found.Add(new MdnsAnnouncement(service, target, peer, addresses, ttl < TimeSpan.Zero ? TimeSpan.Zero : ttl));
        }
        return found;
    }

    /// <summary>The usable addresses in an instance's TXT strings, all naming the peer of the first one.</summary>
    private static (PeerId? Peer, List<Multiaddr> Addresses) ReadAddresses(List<TXTRecord> texts, int maxAddresses)
    {
        PeerId? peer = null;
        string? peerSuffix = null;
        List<Multiaddr> addresses = [];
        int looked = 0;
        foreach (TXTRecord txt in texts)
        {
            foreach (string text in txt.Strings)
            {
                if (addresses.Count >= maxAddresses || looked++ >= MaxTxtStringsPerInstance)
                    return (peer, addresses);
                if (!text.StartsWith(DnsaddrPrefix, StringComparison.Ordinal)
                    || (peerSuffix is not null && !text.EndsWith(peerSuffix, StringComparison.Ordinal)))
                    continue;
                if (ReadDnsaddr(text) is not { } address || address.PeerId is not { } id)
                    continue;
                if (peer is null)
                {
                    peer = id;
                    int at = text.LastIndexOf("/p2p/", StringComparison.Ordinal);
                    peerSuffix = at > 0 ? text[at..] : null;   // as written: rendering the id again costs a base58 encoding
                }
                if (id.Equals(peer) && !addresses.Contains(address))
                    addresses.Add(address);
            }
        }
        return (peer, addresses);
    }

    /// <summary>Which of <paramref name="serviceNames"/> <paramref name="name"/> is, if any (case-insensitive, as DNS names are).</summary>
    private static string? ServiceOf(DomainName? name, IReadOnlyList<string> serviceNames)
    {
        if (name is null)
            return null;
        string text = name.ToString();
        foreach (string service in serviceNames)
        {
            if (string.Equals(text, service, StringComparison.OrdinalIgnoreCase)
                || (text.Length == service.Length + 1 && text[^1] == '.' && text.StartsWith(service, StringComparison.OrdinalIgnoreCase)))
                return service;
        }
        return null;
    }

    /// <summary>
    /// The TXT records of a message (either section), by owner name and by the first label of it,
    /// each name rendered once.
    /// </summary>
    private sealed class TxtIndex
    {
        private readonly Dictionary<string, List<TXTRecord>> _byName = new(StringComparer.OrdinalIgnoreCase);
        private readonly Dictionary<string, List<TXTRecord>> _byFirstLabel = new(StringComparer.OrdinalIgnoreCase);

        public TxtIndex(Message message)
        {
            foreach (ResourceRecord record in message.Answers.Concat(message.AdditionalRecords))
            {
                if (record is not TXTRecord { Name: { } name } txt)
                    continue;
                All.Add(txt);
                Add(_byName, name.ToString(), txt);
                if (name.Labels.Count > 0)
                    Add(_byFirstLabel, name.Labels[0], txt);
            }
        }

        public List<TXTRecord> All { get; } = [];

        /// <summary>The records named <paramref name="target"/>, or else those sharing its first label.</summary>
        public List<TXTRecord> For(string target, DomainName name)
        {
            if (_byName.TryGetValue(target, out List<TXTRecord>? exact))
                return exact;
            return name.Labels.Count > 0 && _byFirstLabel.TryGetValue(name.Labels[0], out List<TXTRecord>? byLabel) ? byLabel : [];
        }

        private static void Add(Dictionary<string, List<TXTRecord>> index, string key, TXTRecord txt)
        {
            if (!index.TryGetValue(key, out List<TXTRecord>? list))
                index[key] = list = [];
            list.Add(txt);
        }
    }

    /// <summary>A <c>dnsaddr=</c> string holding a TCP address over IPv4 or IPv6 that ends in /p2p/; else null.</summary>
    public static Multiaddr? ReadDnsaddr(string text)
    {
        if (!text.StartsWith(DnsaddrPrefix, StringComparison.Ordinal))
            return null;
        if (!Multiaddr.TryParse(text[DnsaddrPrefix.Length..], out Multiaddr? address) || address is null)
            return null;
        try
        {
            if (address.PeerId is null || !address.TryGetTcpEndPoint(out IPEndPoint? endPoint) || endPoint is null)
                return null;
            return endPoint.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6 ? address : null;
        }
        catch (Exception e) when (e is ProtocolViolationException or ArgumentException or FormatException)
        {
            return null;                    // a /p2p/ value that is no peer id
        }
    }
}
