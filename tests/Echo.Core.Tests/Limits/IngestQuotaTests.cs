using Echo.Core.Chat;
using Microsoft.Extensions.Time.Testing;

namespace Echo.Core.Tests.Limits;

public sealed class IngestQuotaTests
{
    private const string Flooder = "12D3KooWFlooder";
    private const string Honest = "12D3KooWHonest";
    private const string Relay = "12D3KooWRelay";

    private static int Admitted(IngestQuota quota, string author, string? peer, int count) =>
        Enumerable.Range(0, count).Count(_ => quota.AdmitLive(author, peer) == IngestVerdict.Admitted);

    [Fact]
    public void AnAuthor_GetsItsBurst_ThenItsRate_AndTheRestIsCounted()
    {
        FakeTimeProvider time = new();
        IngestQuota quota = new(new IngestQuotaOptions(), time);

        Assert.Equal(100, Admitted(quota, Flooder, null, 100_000));
        Assert.Equal(IngestVerdict.AuthorRate, quota.AdmitLive(Flooder, null));
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(10, Admitted(quota, Flooder, null, 1000));
        Assert.Equal(100_000 - 100 + 1 + 1000 - 10, quota.Refusals["store.author-rate"]);
    }

    [Fact]
    public void AnAuthorAtOneMessageASecond_ReachesTheHourlyQuota_AndNoMore()
    {
        FakeTimeProvider time = new();
        IngestQuota quota = new(new IngestQuotaOptions(), time);
        int admitted = 0;
        for (int second = 0; second < 3600; second++)
        {
            admitted += Admitted(quota, Flooder, null, 2);
            time.Advance(TimeSpan.FromSeconds(1));
        }
        // 1,000 an hour plus what refills in that hour (1,000 more): never the 7,200 it sent.
        Assert.InRange(admitted, 1000, 2000);
        Assert.True(quota.Refusals.ContainsKey("store.author-quota"));
    }

    [Fact]
    public void AFloodingAuthor_LeavesTheBudgetOfOtherAuthors_EvenThroughTheSameRelay()
    {
        IngestQuota quota = new(new IngestQuotaOptions(), new FakeTimeProvider());
        int honest = 0;
        for (int i = 0; i < 10_000; i++)
        {
            quota.AdmitLive(Flooder, Relay);
            if (i % 500 == 0)
                honest += quota.AdmitLive(Honest, Relay) == IngestVerdict.Admitted ? 1 : 0;
        }
        Assert.Equal(20, honest);
    }

    [Fact]
    public void AHumanPaceAuthor_IsNeverRefused_WhileAnotherFloods()
    {
        FakeTimeProvider time = new();
        IngestQuota quota = new(new IngestQuotaOptions(), time);
        int honest = 0;
        for (int i = 0; i < 100_000; i++)
        {
            quota.AdmitLive(Flooder, null);
            if (i % 1000 == 0)
            {
                honest += quota.AdmitLive(Honest, null) == IngestVerdict.Admitted ? 1 : 0;
                time.Advance(TimeSpan.FromSeconds(1));
            }
        }
        Assert.Equal(100, honest);
    }

    [Fact]
    public void ManyAuthorsThroughOnePeer_AreHeldToThePeersBudget()
    {
        IngestQuota quota = new(new IngestQuotaOptions(), new FakeTimeProvider());
        int admitted = 0;
        for (int author = 0; author < 5000; author++)
            admitted += Admitted(quota, $"fresh-{author}", Relay, 1);
        Assert.Equal(300, admitted);
        Assert.Equal(4700, quota.Refusals["store.peer-rate"]);
        Assert.Equal(IngestVerdict.Admitted, quota.AdmitLive("fresh-x", "another relay"));
    }

    [Fact]
    public void SyncedPages_AdmitUpToThePeersBudget_TheRestCounted()
    {
        FakeTimeProvider time = new();
        IngestQuota quota = new(new IngestQuotaOptions { SyncedBurst = 1000, SyncedPerSecond = 10 }, time);
        Assert.Equal(500, quota.AdmitSynced(Relay, 500));
        Assert.Equal(500, quota.AdmitSynced(Relay, 800));
        Assert.Equal(0, quota.AdmitSynced(Relay, 500));
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(50, quota.AdmitSynced(Relay, 500));
        Assert.Equal(500, quota.AdmitSynced("other", 500));
        Assert.Equal(300 + 500 + 450, quota.Refusals["store.synced-quota"]);
    }

    [Fact]
    public void FirstRefusal_IsTrueOncePerPeer()
    {
        IngestQuota quota = new(new IngestQuotaOptions(), new FakeTimeProvider());
        Assert.True(quota.FirstRefusal(Flooder));
        Assert.False(quota.FirstRefusal(Flooder));
        Assert.True(quota.FirstRefusal(Honest));
    }

    [Fact]
    public void TheTablesStayBounded_UnderAFloodOfFreshIdentities()
    {
        KeyedRate<string> rate = new(5, 1, 64, new FakeTimeProvider(), StringComparer.Ordinal);
        for (int i = 0; i < 100_000; i++)
            rate.TryTake($"id-{i}");
        Assert.InRange(rate.Count, 1, 64);
    }

    [Fact]
    public void Charge_GoesIntoDebt_WhichTheRefillPaysFirst()
    {
        FakeTimeProvider time = new();
        KeyedRate<string> bytes = new(1000, 100, 16, time);
        bytes.Charge("ip", 1500);
        Assert.False(bytes.HasRoom("ip"));
        Assert.Equal(TimeSpan.FromSeconds(5.01), bytes.TryTakeOrWait("ip"));
        time.Advance(TimeSpan.FromSeconds(6));
        Assert.True(bytes.TryTake("ip"));
    }
}
