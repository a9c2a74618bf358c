using System.Globalization;
using Echo.Core.Files;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Core.Tests.Files;

/// <summary>Offers remembered (docs/LIMITS.md, L-file-offers): 10,000 heard from others, 1,000 of our own, the oldest forgotten.</summary>
public sealed class OfferLimitTests
{
    private const string Peer = "12D3KooWPeer000000000000000000000000000000000000000";
    private const string Sha = "0000000000000000000000000000000000000000000000000000000000000000";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static FileOffer Offer(int i) => new("o" + i.ToString("D6", CultureInfo.InvariantCulture), "f.txt", 1, Sha);

    [Fact]
    public void KnownOffers_TenThousandAreKept_OneMoreForgetsTheOldestNotDownloading()
    {
        OfferCatalog catalog = new(new FileSharingOptions().MaxKnownOffers);
        string downloading = Offer(0).Id;
        for (int i = 0; i < 10_000; i++)
            Assert.True(catalog.Add(Offer(i), Peer, "peer", "lobby", DateTimeOffset.UnixEpoch, id => id == downloading));
        Assert.NotNull(catalog.Find(Offer(1).Id));
        Assert.Equal(10_000, catalog.Ids.Count());

        catalog.Add(Offer(10_000), Peer, "peer", "lobby", DateTimeOffset.UnixEpoch, id => id == downloading);
        catalog.Add(Offer(10_001), Peer, "peer", "lobby", DateTimeOffset.UnixEpoch, id => id == downloading);

        Assert.NotNull(catalog.Find(downloading));   // one being downloaded stays
        Assert.Null(catalog.Find(Offer(1).Id));      // the oldest others went
        Assert.Null(catalog.Find(Offer(2).Id));
        Assert.NotNull(catalog.Find(Offer(3).Id));
        Assert.NotNull(catalog.Find(Offer(10_001).Id));
    }

    [Fact(Timeout = 60_000)]
    public async Task OwnOffers_AThousandAreServed_OneMoreWithdrawsTheOldest()
    {
        string folder = Path.Combine(Path.GetTempPath(), "echo-offers-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            string path = Path.Combine(folder, "f.txt");
            await File.WriteAllTextAsync(path, "x", Ct);
            OfferRegistry registry = new(new FileSharingOptions(), NullLogger.Instance);
            List<FileOffer> offers = [];
            for (int i = 0; i < 1_000; i++)
                offers.Add(await registry.OfferAsync(path, to: null, Ct));
            Assert.NotNull(registry.Lookup(Peer, offers[0].Id));

            FileOffer newest = await registry.OfferAsync(path, to: null, Ct);

            Assert.Null(registry.Lookup(Peer, offers[0].Id));
            Assert.NotNull(registry.Lookup(Peer, offers[1].Id));
            Assert.NotNull(registry.Lookup(Peer, newest.Id));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
