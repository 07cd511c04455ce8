using Microsoft.Extensions.Time.Testing;
using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Persistence;
using Xunit;

namespace OdooFleet.Controller.Tests.Persistence;

public sealed class PlanStoreTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(250);
    private readonly PlanStore plans = new(fixture.Database.DataSource);
    private readonly EnrollmentStore enrollment = new(fixture.Database.DataSource);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<string> EnrollAsync()
    {
        var token = Identifiers.Hash(Identifiers.NewSecret("oft"));
        await enrollment.CreateTokenAsync(Identifiers.New("t"), token, Now, Now.AddHours(1), Ct);
        var host = new HostRecord(
            Identifiers.New("h"), $"n{Guid.NewGuid():N}"[..20], "10.0.0.1", Now, null, null, null, 0, null, 0, 0, null, false, "", "q");
        Assert.Equal(TokenRedemption.Redeemed, await enrollment.EnrollAsync(token, host, null, Now, "{}", _ => Task.CompletedTask, Ct));
        return host.Id;
    }

    private static PlanReport Report(string requestId, string hostId) => new(
        requestId,
        hostId,
        7,
        true,
        "",
        ["workers = 5: min(2 x 2 cores + 1, RAM allows 6)"],
        [
            new ResourceResult("file:/etc/odoo.conf", "file", ResourceOutcome.Changed, "would write 812 bytes", 3) { Detail = "--- a\n+++ b\n-x\n+y\n" },
            new ResourceResult("user:odoo", "user", ResourceOutcome.Unchanged, "", 1),
        ],
        Now.AddSeconds(1),
        Now.AddSeconds(2));

    /// <summary>Advances fake time by the poll interval until the wait ends (bounded by a real-time deadline).</summary>
    private static async Task<T> DriveAsync<T>(Task<T> wait, FakeTimeProvider time)
    {
        var giveUp = DateTime.UtcNow.AddSeconds(30);
        while (!wait.IsCompleted && DateTime.UtcNow < giveUp)
        {
            time.Advance(Poll);
            await Task.WhenAny(wait, Task.Delay(TimeSpan.FromMilliseconds(20), Ct));
        }

        return await wait.WaitAsync(TimeSpan.FromSeconds(5), Ct);
    }

    [Fact]
    public async Task RecordAsync_ReportForTheRequest_StoredWithDetailAndExplanation()
    {
        var hostId = await EnrollAsync();
        var requestId = Identifiers.New("p");
        await plans.CreateAsync(requestId, hostId, Now, Ct);

        Assert.True(await plans.RecordAsync(Report(requestId, hostId), Now.AddSeconds(3), Ct));

        var stored = await plans.FindAsync(requestId, Ct);
        Assert.NotNull(stored);
        Assert.Equal(Now, stored.RequestedAt);
        Assert.Equal(Now.AddSeconds(3), stored.ReportedAt);
        Assert.Equal(7, stored.Report!.Generation);
        Assert.Equal(["workers = 5: min(2 x 2 cores + 1, RAM allows 6)"], stored.Report.Explanation);
        Assert.Equal("--- a\n+++ b\n-x\n+y\n", stored.Report.Resources[0].Detail);
        Assert.Equal(ResourceOutcome.Unchanged, stored.Report.Resources[1].Outcome);
    }

    [Fact]
    public async Task RecordAsync_OtherHostUnknownRequestOrSecondAnswer_Refused()
    {
        var hostId = await EnrollAsync();
        var otherHost = await EnrollAsync();
        var requestId = Identifiers.New("p");
        await plans.CreateAsync(requestId, hostId, Now, Ct);

        Assert.False(await plans.RecordAsync(Report(requestId, otherHost), Now, Ct));
        Assert.False(await plans.RecordAsync(Report(Identifiers.New("p"), hostId), Now, Ct));
        Assert.True(await plans.RecordAsync(Report(requestId, hostId), Now, Ct));
        Assert.False(await plans.RecordAsync(Report(requestId, hostId) with { Generation = 99 }, Now, Ct));
        Assert.Equal(7, (await plans.FindAsync(requestId, Ct))!.Report!.Generation);
    }

    [Fact]
    public async Task CreateAsync_RowsOlderThanRetention_Pruned()
    {
        var hostId = await EnrollAsync();
        var old = Identifiers.New("p");
        var recent = Identifiers.New("p");
        var later = Now.AddDays(10);
        await plans.CreateAsync(old, hostId, later - PlanStore.Retention - TimeSpan.FromMinutes(1), Ct);
        await plans.CreateAsync(recent, hostId, later - TimeSpan.FromHours(1), Ct);

        var pruned = await plans.CreateAsync(Identifiers.New("p"), hostId, later, Ct);

        Assert.True(pruned >= 1);
        Assert.Null(await plans.FindAsync(old, Ct));
        Assert.NotNull(await plans.FindAsync(recent, Ct));
    }

    [Fact]
    public async Task WaitForReportAsync_ReportArrivesWhileWaiting_ReturnsIt()
    {
        var hostId = await EnrollAsync();
        var requestId = Identifiers.New("p");
        var time = new FakeTimeProvider(Now);
        await plans.CreateAsync(requestId, hostId, Now, Ct);

        var wait = plans.WaitForReportAsync(requestId, Now.AddSeconds(60), time, Poll, Ct);
        Assert.True(await plans.RecordAsync(Report(requestId, hostId), Now, Ct));
        var answered = await DriveAsync(wait, time);

        Assert.NotNull(answered);
        Assert.Equal(requestId, answered.Report!.RequestId);
        Assert.True(time.GetUtcNow() < Now.AddSeconds(60));
    }

    [Fact]
    public async Task WaitForReportAsync_NoAnswerByDeadline_Null()
    {
        var hostId = await EnrollAsync();
        var requestId = Identifiers.New("p");
        var time = new FakeTimeProvider(Now);
        await plans.CreateAsync(requestId, hostId, Now, Ct);

        var answered = await DriveAsync(plans.WaitForReportAsync(requestId, Now.AddSeconds(5), time, Poll, Ct), time);

        Assert.Null(answered);
        Assert.True(time.GetUtcNow() >= Now.AddSeconds(5));
    }
}
