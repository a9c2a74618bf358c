using System.Net;
using Echo.Net.ResourceManager;

namespace Echo.Net.Tests.ResourceManager;

public sealed class AddressBucketTests
{
    [Theory]
    [InlineData("10.77.0.2", "10.77.0.2")]
    [InlineData("::ffff:10.77.0.2", "10.77.0.2")]
    [InlineData("2001:db8:1:ab12:1:2:3:4", "2001:db8:1:ab00::/56")]
    public void Of_NamesTheCountedAddress(string address, string expected) =>
        Assert.Equal(expected, AddressBucket.Of(IPAddress.Parse(address), 56).ToString());
}
