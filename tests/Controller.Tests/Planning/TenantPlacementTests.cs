using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Planning;
using Xunit;

namespace OdooFleet.Controller.Tests.Planning;

public sealed class TenantPlacementTests
{
    private const long GiB = 1024L * 1024 * 1024;
    private static readonly Dictionary<string, string> NoSelector = [];

    private static PlacementHost Host(
        string name, long memoryGiB = 8, int workers = 5, long diskGiB = 100, long? freeGiB = null, bool online = true,
        TenantLoad? load = null, Dictionary<string, string>? labels = null) =>
        new($"h-{name}", name, labels ?? [], online, memoryGiB * GiB, diskGiB * GiB, (freeGiB ?? diskGiB) * GiB, workers, load ?? TenantLoad.None);

    private static PlacementDecision Place(IReadOnlyList<PlacementHost> hosts, TenantPlan? plan = null, string? host = null, Dictionary<string, string>? selector = null) =>
        TenantPlacement.Place(new PlacementRequest(plan ?? TenantPlan.Small, host, selector ?? NoSelector), hosts, PlacementPolicy.Default);

    [Fact]
    public void Place_SeveralHostsFit_PicksTheMostHeadroom()
    {
        var decision = Place([Host("a", memoryGiB: 4), Host("b", memoryGiB: 16), Host("c", memoryGiB: 8)], TenantPlan.Large);

        Assert.Equal("b", decision.Chosen?.Name);
        Assert.Equal(["b", "c", "a"], decision.Verdicts.Select(v => v.Name));
        Assert.All(decision.Verdicts, v => Assert.StartsWith("fits:", v.Reasons.Single(), StringComparison.Ordinal));
    }

    [Fact]
    public void Place_EqualHosts_TieBrokenByTenantsThenName()
    {
        Assert.Equal("a", Place([Host("b"), Host("a")]).Chosen?.Name);
        Assert.Equal("b", Place([Host("b"), Host("a", load: new TenantLoad(1, 0, 0, 0))]).Chosen?.Name);
    }

    [Fact]
    public void Place_SameInputs_SameDecision()
    {
        var hosts = Enumerable.Range(0, 50).Select(i => Host($"web-{i:D2}", memoryGiB: 4 + (i % 3), load: new TenantLoad(i % 7, 64 * (i % 7), 50 * (i % 7), 1024 * (i % 7)))).ToList();
        var first = Place(hosts);
        var reversed = Place([.. Enumerable.Reverse(hosts)]);

        Assert.Equal(first.Chosen?.HostId, reversed.Chosen?.HostId);
        Assert.Equal(first.Verdicts.Select(v => v.Name), reversed.Verdicts.Select(v => v.Name));
    }

    // memory GiB, workers, disk GiB, free GiB, load (tenants, MiB, milliworkers, disk MiB), plan -> the reason's start
    [Theory]
    [InlineData(1, 5, 100, 100, 0, 0, 0, 0, "small", "RAM:")]
    [InlineData(2, 5, 100, 100, 0, 961, 0, 0, "small", "RAM:")]
    [InlineData(2, 5, 100, 100, 0, 960, 0, 0, "small", null)]
    [InlineData(8, 1, 100, 100, 0, 0, 960, 0, "small", "workers:")]
    [InlineData(8, 5, 100, 100, 0, 0, 0, 0, "large", null)]
    [InlineData(8, 5, 20, 20, 0, 0, 0, 0, "large", "disk:")]
    [InlineData(8, 5, 100, 100, 0, 0, 0, 91 * 1024, "small", "disk:")]
    [InlineData(8, 5, 100, 10, 0, 0, 0, 0, "small", "disk:")]
    [InlineData(64, 500, 10000, 10000, 250, 0, 0, 0, "small", "tenants:")]
    [InlineData(64, 500, 10000, 10000, 249, 0, 0, 0, "small", null)]
    public void Place_OneHost_RejectedForTheExhaustedBudget(
        long memoryGiB, int workers, long diskGiB, long freeGiB, int tenants, long memoryMiB, long milliWorkers, long diskMiB, string plan, string? reason)
    {
        var decision = Place([Host("a", memoryGiB, workers, diskGiB, freeGiB, load: new TenantLoad(tenants, memoryMiB, milliWorkers, diskMiB))], TenantPlan.Find(plan));

        if (reason is null)
        {
            Assert.Equal("a", decision.Chosen?.Name);
        }
        else
        {
            Assert.Null(decision.Chosen);
            Assert.Contains(decision.Verdicts.Single().Reasons, r => r.StartsWith(reason, StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Place_ExactlyFull_Fits_OneMore_DoesNot()
    {
        // 2 GiB - 1 GiB reserved = 1024 MiB for tenants: exactly 16 small ones.
        var full = new TenantLoad(15, 15 * 64, 15 * 50, 15 * 1024);
        Assert.NotNull(Place([Host("a", memoryGiB: 2, load: full)]).Chosen);
        Assert.Null(Place([Host("a", memoryGiB: 2, load: full.Plus(TenantPlan.Small))]).Chosen);
    }

    [Fact]
    public void Place_OfflineOrUnreported_Rejected()
    {
        var unreported = Host("b") with { MemoryBytes = null, DiskFreeBytes = null };
        var decision = Place([Host("a", online: false), unreported]);

        Assert.Null(decision.Chosen);
        Assert.Contains(decision.Verdicts.Single(v => v.Name == "a").Reasons, r => r.StartsWith("offline", StringComparison.Ordinal));
        Assert.Contains(decision.Verdicts.Single(v => v.Name == "b").Reasons, r => r.StartsWith("capacity unknown", StringComparison.Ordinal));
        Assert.Contains("no host fits", decision.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public void Place_Selector_OnlyMatchingHostsFit()
    {
        var decision = Place(
            [Host("big", memoryGiB: 64), Host("web", labels: new() { ["role"] = "web" }), Host("db", labels: new() { ["role"] = "db" })],
            selector: new() { ["role"] = "web" });

        Assert.Equal("web", decision.Chosen?.Name);
        Assert.Contains("the host has no label role", decision.Verdicts.Single(v => v.Name == "big").Reasons[0], StringComparison.Ordinal);
        Assert.Contains("the host has role=db", decision.Verdicts.Single(v => v.Name == "db").Reasons[0], StringComparison.Ordinal);
    }

    [Fact]
    public void Place_ExplicitHost_OnlyThatHostAndStillNoOvercommit()
    {
        var hosts = new[] { Host("small-box", memoryGiB: 1), Host("big", memoryGiB: 64) };

        var byName = Place(hosts, host: "small-box");
        Assert.Null(byName.Chosen);
        Assert.Equal("small-box", byName.Verdicts.Single().Name);

        Assert.Equal("big", Place(hosts, host: "h-big").Chosen?.Name);
        var missing = Place(hosts, host: "nope");
        Assert.Null(missing.Chosen);
        Assert.Contains("no host is named 'nope'", missing.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public void Place_TwoHundredTenantsOnFourHosts_SpreadWithoutOvercommit()
    {
        // The system test's shape: 4 hosts, 200 small tenants created one after the other.
        var hosts = Enumerable.Range(1, 4).Select(i => Host($"th{i}", memoryGiB: 6, workers: 5, diskGiB: 300)).ToList();
        for (var i = 0; i < 200; i++)
        {
            var decision = Place(hosts);
            var chosen = decision.Chosen ?? throw new Xunit.Sdk.XunitException($"tenant {i}: {decision.Summary}");
            var at = hosts.FindIndex(h => h.HostId == chosen.HostId);
            hosts[at] = hosts[at] with { Load = hosts[at].Load.Plus(TenantPlan.Small), DiskFreeBytes = hosts[at].DiskFreeBytes - (TenantPlan.Small.DiskMiB * 1024 * 1024) };
        }

        Assert.All(hosts, h =>
        {
            Assert.Equal(50, h.Load.Tenants);
            Assert.True(h.Load.MemoryMiB <= (6 * 1024) - 1024);
            Assert.True(h.Load.MilliWorkers <= 5000);
        });
        Assert.Null(Place([Host("full", memoryGiB: 2, load: new TenantLoad(16, 1024, 800, 16 * 1024))]).Chosen);
    }

    [Theory]
    [InlineData(6, 5, 300, "small")]
    [InlineData(2, 5, 100, "small")]
    [InlineData(64, 3, 100, "medium")]
    [InlineData(64, 500, 40, "large")]
    [InlineData(1, 5, 100, "small")]
    public void Room_AsManyAsPlaceAcceptsOneAfterTheOther(long memoryGiB, int workers, long diskGiB, string planName)
    {
        var plan = TenantPlan.Find(planName)!;
        var host = Host("a", memoryGiB, workers, diskGiB);
        var room = TenantPlacement.Room(host, plan, PlacementPolicy.Default);

        var placed = 0;
        while (Place([host], plan).Chosen is not null)
        {
            host = host with { Load = host.Load.Plus(plan), DiskFreeBytes = host.DiskFreeBytes - (plan.DiskMiB * 1024 * 1024) };
            placed++;
        }

        // Room counts on today's free disk; placement also sees it shrink as tenants are placed (as the agent reports it).
        Assert.Equal(placed, room);
    }

    [Fact]
    public void Room_CapacityUnknown_Null() =>
        Assert.Null(TenantPlacement.Room(Host("a") with { MemoryBytes = null }, TenantPlan.Small, PlacementPolicy.Default));

    [Fact]
    public void Place_NoHosts_SaysToEnrollOne()
    {
        var decision = Place([]);
        Assert.Null(decision.Chosen);
        Assert.Contains("enroll", decision.Summary, StringComparison.Ordinal);
    }
}
