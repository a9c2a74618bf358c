using System.Globalization;
using Echo.Core.Events;
using Echo.Core.Ports;

namespace Echo.Core;

/// <summary>/addrs: where this node listens, where peers see it, and what it advertises.</summary>
public sealed partial class ChatManager
{
    /// <summary>Answers /addrs: a notice for people, then an <see cref="AddressesEvent"/> for programs.</summary>
    private void ShowAddresses()
    {
        if (_network is not INodeAddressSource source)
        {
            Publish(new NoticeEvent("this network does not report its addresses"));
            return;
        }
        NodeAddresses addresses = source.GetAddresses();
        Publish(new NoticeEvent(AddressesText(addresses)));
        Publish(new AddressesEvent(addresses));
    }

    private void ApplyAddresses(NetworkEvent networkEvent)
    {
        if (networkEvent is AddressesChanged changed)
            Publish(new AddressesEvent(changed.Addresses));
    }

    /// <summary>The text /addrs shows.</summary>
    internal static string AddressesText(NodeAddresses addresses)
    {
        List<string> lines = ["listening on:", .. addresses.Listen.Select(a => "  " + a)];
        if (addresses.Observed.Count == 0)
            lines.Add("observed by peers: nothing yet");
        else
        {
            lines.Add("observed by peers:");
            lines.AddRange(addresses.Observed.Select(o => string.Create(CultureInfo.InvariantCulture,
                $"  {o.Address} ({o.Observers} {(o.Observers == 1 ? "observer" : "observers")}{(o.Trusted ? ", trusted" : "")})")));
        }
        lines.Add("advertised:");
        lines.AddRange(addresses.Advertised.Select(a => "  " + a));
        return string.Join('\n', lines);
    }
}
