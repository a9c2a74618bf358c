using Echo.Net.Identity;
using Echo.Net.Relay.Pb;

namespace Echo.Net.Relay;

/// <summary>A relay (or the peer behind it) answered a hop or stop request with a status other than OK.</summary>
public sealed class RelayRefusedException(PeerId relay, string request, int status, string statusName)
    : Exception($"relay {relay.ToShortString()} refused {request}: {statusName}")
{
    internal RelayRefusedException(PeerId relay, string request, Status status)
        : this(relay, request, (int)status, RelayCodec.Describe(status))
    {
    }

    /// <summary>The relay that answered.</summary>
    public PeerId Relay { get; } = relay;

    /// <summary>The spec's status code (e.g. 204 NO_RESERVATION).</summary>
    public int Status { get; } = status;

    /// <summary>The status as the spec spells it.</summary>
    public string StatusName { get; } = statusName;
}
