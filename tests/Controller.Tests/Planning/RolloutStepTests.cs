using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Planning;
using Xunit;

namespace OdooFleet.Controller.Tests.Planning;

public sealed class RolloutStepTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Resend = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(15);
    private static readonly OdooRelease Release = new("18.0", new string('a', 40));

    // reported generation, applied generation, success, seconds since dispatch (-1 reported = host removed)
    [Theory]
    [InlineData("no report yet", 4, 4, true, 5, "Updating", false)]
    [InlineData("no report after the resend interval", 4, 4, true, 31, "Updating", true)]
    [InlineData("reported the target successfully", 5, 5, true, 10, "Succeeded", false)]
    [InlineData("reported a newer generation successfully", 7, 7, true, 10, "Succeeded", false)]
    [InlineData("reported the target as failed", 5, 4, false, 10, "Failed", false)]
    [InlineData("host removed", -1, 0, false, 10, "Failed", false)]
    [InlineData("silent past the timeout", 4, 4, true, 901, "Failed", false)]
    public void Decide_UpdatingHost_FollowsItsReports(
        string name, long reported, long applied, bool success, int secondsSinceDispatch, string expected, bool resend)
    {
        var progress = reported < 0 ? null : new HostProgress(reported, applied, success, success ? "" : "boom", success ? Release : null);
        var now = T0.AddSeconds(secondsSinceDispatch);

        var decision = RolloutStep.Decide(RolloutHostStatus.Updating, 5, T0, T0, progress, now, Resend, Timeout);

        Assert.True(Enum.Parse<RolloutHostStatus>(expected) == decision.Status, $"{name}: expected {expected}, got {decision.Status} ({decision.Message})");
        Assert.Equal(resend, decision.Resend);
    }

    [Fact]
    public void Decide_FailedReport_MessageCarriesAgentError()
    {
        var decision = RolloutStep.Decide(
            RolloutHostStatus.Updating, 5, T0, T0, new HostProgress(5, 4, false, "odoo.service did not become healthy", null), T0, Resend, Timeout);

        Assert.Contains("odoo.service did not become healthy", decision.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Pending")]
    [InlineData("Succeeded")]
    [InlineData("Failed")]
    [InlineData("Unchanged")]
    public void Decide_HostNotUpdating_StaysAsItIs(string statusName)
    {
        var status = Enum.Parse<RolloutHostStatus>(statusName);
        var decision = RolloutStep.Decide(status, 5, T0, T0, new HostProgress(9, 9, true, "", Release), T0.AddHours(1), Resend, Timeout);

        Assert.Equal(status, decision.Status);
        Assert.False(decision.Resend);
    }
}
