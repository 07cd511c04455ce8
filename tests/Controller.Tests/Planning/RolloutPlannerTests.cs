using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Planning;
using Xunit;

namespace OdooFleet.Controller.Tests.Planning;

public sealed class RolloutPlannerTests
{
    private static readonly OdooRelease Release = new("18.0", new string('a', 40));

    private static List<RolloutTarget> Targets(int count) =>
        [.. Enumerable.Range(1, count).Select(i => new RolloutTarget($"h-{i:D4}", $"web-{i:D4}", Release))];

    private static RolloutOptions Options(int canary = 0, string batch = "", string maxFailures = "", int healthTimeout = 0, int minHealthy = 0, bool pause = false) =>
        new(new Dictionary<string, string>(), canary, batch, maxFailures, healthTimeout, minHealthy, pause, false, OfflinePolicy.Skip);

    // targets, canary, batch -> batch sizes
    [Theory]
    [InlineData(10, 0, "", "3,3,3,1")]
    [InlineData(10, 1, "", "1,3,3,3")]
    [InlineData(5, 1, "2", "1,2,2")]
    [InlineData(5, 0, "100%", "5")]
    [InlineData(5, 0, "10%", "1,1,1,1,1")]
    [InlineData(3, 3, "1", "3")]
    [InlineData(4, 0, "10", "4")]
    [InlineData(5000, 0, "10%", "500,500,500,500,500,500,500,500,500,500")]
    [InlineData(5000, 5, "10%", "5,500,500,500,500,500,500,500,500,500,495")]
    public void Plan_TargetsCanaryAndBatch_BatchSizes(int targets, int canary, string batch, string expected)
    {
        var (plan, errors) = RolloutPlanner.Plan(Targets(targets), Options(canary, batch));

        Assert.Empty(errors);
        Assert.Equal(expected, string.Join(",", plan!.Batches.Select(b => b.Hosts.Count)));
        Assert.Equal(canary > 0, plan.Batches[0].Canary);
        Assert.All(plan.Batches.Skip(1), b => Assert.False(b.Canary));
        Assert.Equal(Enumerable.Range(0, plan.Batches.Count), plan.Batches.Select(b => b.Index));
        // Every target exactly once, in name order.
        Assert.Equal(Targets(targets).Select(t => t.HostId), plan.Batches.SelectMany(b => b.Hosts).Select(h => h.HostId));
    }

    // targets, max_failures -> resolved hosts
    [Theory]
    [InlineData(10, "", "0", 0)]
    [InlineData(10, "0", "0", 0)]
    [InlineData(10, "2", "2", 2)]
    [InlineData(10, "25%", "25%", 2)]
    [InlineData(5, "10%", "10%", 0)]
    [InlineData(5, "100%", "100%", 5)]
    [InlineData(3, "7", "7", 3)]
    public void Plan_MaxFailures_ResolvedIntoPolicy(int targets, string maxFailures, string text, int hosts)
    {
        var (plan, errors) = RolloutPlanner.Plan(Targets(targets), Options(maxFailures: maxFailures));

        Assert.Empty(errors);
        Assert.Equal(text, plan!.Policy.MaxFailures);
        Assert.Equal(hosts, plan.Policy.MaxFailuresHosts);
    }

    [Fact]
    public void Plan_Defaults_FilledIntoPolicy()
    {
        var (plan, _) = RolloutPlanner.Plan(Targets(4), Options());

        var p = plan!.Policy;
        Assert.Equal("25%", p.Batch);
        Assert.Equal("0", p.MaxFailures);
        Assert.Equal(300, p.HealthTimeoutSeconds);
        Assert.Equal(10, p.MinHealthySeconds);
        Assert.Equal(OfflinePolicy.Skip, p.Offline);
    }

    // field, options -> the error names the field, the rule and an example
    [Theory]
    [InlineData("batch", "150%", "", "batch: \"150%\" must be a host count (e.g. 5) or a percentage 1%..100% (e.g. 10%)")]
    [InlineData("batch", "0", "", "batch: \"0\" must be a host count (e.g. 5) or a percentage 1%..100% (e.g. 10%)")]
    [InlineData("batch", "0%", "", "batch: \"0%\" must be a host count")]
    [InlineData("batch", "-1", "", "batch: \"-1\" must be a host count")]
    [InlineData("batch", "ten", "", "batch: \"ten\" must be a host count")]
    [InlineData("batch", "5 %", "", "batch: \"5 %\" must be a host count")]
    [InlineData("batch", "٥", "", "batch: \"٥\" must be a host count")]
    [InlineData("max_failures", "", "101%", "max_failures: \"101%\" must be a host count (e.g. 0) or a percentage 0%..100% (e.g. 10%)")]
    [InlineData("max_failures", "", "x", "max_failures: \"x\" must be a host count (e.g. 0)")]
    public void Plan_BadShare_ErrorNamesFieldRuleAndFix(string field, string batch, string maxFailures, string expected)
    {
        var (plan, errors) = RolloutPlanner.Plan(Targets(4), Options(batch: batch, maxFailures: maxFailures));

        Assert.Null(plan);
        var error = Assert.Single(errors);
        Assert.StartsWith(field + ":", error, StringComparison.Ordinal);
        Assert.StartsWith(expected, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(5, 0, 0, false, "canary: 5 must be 0..4")]
    [InlineData(-1, 0, 0, false, "canary: -1 must be 0..4")]
    [InlineData(0, -5, 0, false, "health_timeout: -5 s must be 1 s..24 h")]
    [InlineData(0, 30, 60, false, "min_healthy: 60 s must be at least 1 s and at most the health timeout (30 s)")]
    [InlineData(0, 0, 0, true, "pause_after_canary: needs a canary batch")]
    public void Plan_BadOption_ErrorNamesFieldRuleAndFix(int canary, int healthTimeout, int minHealthy, bool pause, string expected)
    {
        var (plan, errors) = RolloutPlanner.Plan(Targets(4), Options(canary, healthTimeout: healthTimeout, minHealthy: minHealthy, pause: pause));

        Assert.Null(plan);
        Assert.StartsWith(expected, Assert.Single(errors), StringComparison.Ordinal);
    }

    [Fact]
    public void Plan_NoTargets_ErrorSaysNoHostMatches()
    {
        var (plan, errors) = RolloutPlanner.Plan([], Options());

        Assert.Null(plan);
        Assert.Contains(errors, e => e.StartsWith("selector: no host matches", StringComparison.Ordinal));
    }

    [Fact]
    public void Select_Selector_MatchingHostsByName()
    {
        var hosts = new[]
        {
            new PlannableHost("h-3", "web-3", new Dictionary<string, string> { ["role"] = "web", ["dc"] = "a" }),
            new PlannableHost("h-1", "web-1", new Dictionary<string, string> { ["role"] = "web", ["dc"] = "a" }),
            new PlannableHost("h-2", "web-2", new Dictionary<string, string> { ["role"] = "web", ["dc"] = "b" }),
            new PlannableHost("h-4", "db-1", new Dictionary<string, string> { ["role"] = "db" }),
        };

        Assert.Equal(["web-1", "web-3"], RolloutPlanner.Select(hosts, new Dictionary<string, string> { ["role"] = "web", ["dc"] = "a" }).Select(h => h.Name));
        Assert.Equal(["db-1", "web-1", "web-2", "web-3"], RolloutPlanner.Select(hosts, new Dictionary<string, string>()).Select(h => h.Name));
        Assert.Empty(RolloutPlanner.Select(hosts, new Dictionary<string, string> { ["role"] = "cache" }));
    }
}
