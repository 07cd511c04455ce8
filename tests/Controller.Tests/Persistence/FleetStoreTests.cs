using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Persistence;
using Xunit;

namespace OdooFleet.Controller.Tests.Persistence;

public sealed class FleetStoreTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);
    private readonly EnrollmentStore enrollment = new(fixture.Database.DataSource);
    private readonly HostStore hosts = new(fixture.Database.DataSource);
    private readonly EventStore events = new(fixture.Database.DataSource);

    private static readonly Func<CancellationToken, Task> NoBrokerWork = _ => Task.CompletedTask;

    private static HostRecord NewHost(string name) =>
        new(Identifiers.New("h"), name, "10.0.0.1", Now, null, null, null, 0, null, 0, 0, null, false, "", "q");

    private async Task<byte[]> NewTokenAsync(TimeSpan ttl)
    {
        var hash = Identifiers.Hash(Identifiers.NewSecret("oft"));
        await enrollment.CreateTokenAsync(Identifiers.New("t"), hash, Now, Now + ttl, TestContext.Current.CancellationToken);
        return hash;
    }

    [Fact]
    public async Task EnrollAsync_SameTokenTwiceConcurrently_ExactlyOneHostEnrolled()
    {
        var ct = TestContext.Current.CancellationToken;
        var token = await NewTokenAsync(TimeSpan.FromHours(1));
        var a = NewHost($"a{Guid.NewGuid():N}"[..20]);
        var b = NewHost($"b{Guid.NewGuid():N}"[..20]);

        var outcomes = await Task.WhenAll(
            enrollment.EnrollAsync(token, a, null, Now, "{}", NoBrokerWork, ct),
            enrollment.EnrollAsync(token, b, null, Now, "{}", NoBrokerWork, ct));

        Assert.Single(outcomes, o => o == TokenRedemption.Redeemed);
        Assert.Single(outcomes, o => o == TokenRedemption.AlreadyUsed);
        var enrolled = (await hosts.ListAsync(ct)).Where(h => h.Id == a.Id || h.Id == b.Id).ToList();
        Assert.Single(enrolled);
    }

    [Fact]
    public async Task EnrollAsync_ExpiredOrUnknownToken_RefusedAndNothingWritten()
    {
        var ct = TestContext.Current.CancellationToken;
        var expired = await NewTokenAsync(TimeSpan.FromMinutes(1));
        var host = NewHost($"x{Guid.NewGuid():N}"[..20]);

        Assert.Equal(TokenRedemption.Expired, await enrollment.EnrollAsync(expired, host, null, Now.AddMinutes(2), "{}", NoBrokerWork, ct));
        Assert.Equal(TokenRedemption.Unknown, await enrollment.EnrollAsync(Identifiers.Hash("nope"), host, null, Now, "{}", NoBrokerWork, ct));
        Assert.Null(await hosts.FindAsync(host.Id, ct));
        Assert.Equal(TokenRedemption.Redeemed, await enrollment.EnrollAsync(expired, host, null, Now, "{}", NoBrokerWork, ct));
    }

    [Fact]
    public async Task EnrollAsync_BrokerStepFails_TokenUnspentAndNoHost()
    {
        var ct = TestContext.Current.CancellationToken;
        var token = await NewTokenAsync(TimeSpan.FromHours(1));
        var host = NewHost($"q{Guid.NewGuid():N}"[..20]);

        await Assert.ThrowsAsync<InvalidOperationException>(() =>
            enrollment.EnrollAsync(token, host, null, Now, "{}", _ => throw new InvalidOperationException("broker down"), ct));

        Assert.Null(await hosts.FindAsync(host.Id, ct));
        Assert.Equal(TokenRedemption.Redeemed, await enrollment.EnrollAsync(token, host, null, Now, "{}", NoBrokerWork, ct));
    }

    [Fact]
    public async Task EnrollAsync_NewHost_WantsTheBaselineGenerationOneAndHasAppliedNothing()
    {
        var ct = TestContext.Current.CancellationToken;
        var host = NewHost($"n{Guid.NewGuid():N}"[..20]);

        Assert.Equal(TokenRedemption.Redeemed, await enrollment.EnrollAsync(await NewTokenAsync(TimeSpan.FromHours(1)), host, null, Now, "{}", NoBrokerWork, ct));

        var stored = await hosts.FindAsync(host.Id, ct);
        Assert.NotNull(stored);
        Assert.Equal(1, stored.DesiredGeneration);
        Assert.Equal(0, stored.AppliedGeneration);
        Assert.Null(stored.DesiredRelease);
    }

    [Fact]
    public async Task SetDesiredReleaseAsync_SameReleaseTwice_BumpsGenerationOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        var host = NewHost($"g{Guid.NewGuid():N}"[..20]);
        Assert.Equal(TokenRedemption.Redeemed, await enrollment.EnrollAsync(await NewTokenAsync(TimeSpan.FromHours(1)), host, null, Now, "{}", NoBrokerWork, ct));
        var release = new OdooRelease("18.0", new string('c', 40));

        var first = await hosts.SetDesiredReleaseAsync(host.Id, release, "{}", Now, ct);
        var second = await hosts.SetDesiredReleaseAsync(host.Id, release, "{}", Now, ct);
        var third = await hosts.SetDesiredReleaseAsync(host.Id, release with { Commit = new string('d', 40) }, "{}", Now, ct);

        // Enrollment set generation 1 (the baseline); each real release change adds exactly one.
        Assert.Equal((2L, true), first);
        Assert.Equal((2L, false), second);
        Assert.Equal((3L, true), third);
    }

    [Fact]
    public async Task SetDesiredReleasesAsync_MixedBatch_BumpsOnlyHostsOnAnotherReleaseWithOneEventEach()
    {
        var ct = TestContext.Current.CancellationToken;
        var release = new OdooRelease("18.0", new string('a', 40));
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var host = NewHost($"m{Guid.NewGuid():N}"[..20]);
            Assert.Equal(TokenRedemption.Redeemed, await enrollment.EnrollAsync(await NewTokenAsync(TimeSpan.FromHours(1)), host, null, Now, "{}", NoBrokerWork, ct));
            ids.Add(host.Id);
        }

        // The first host already wants the release and applied it; the second wants it but never applied it.
        Assert.Equal((2L, true), await hosts.SetDesiredReleaseAsync(ids[0], release, "{}", Now, ct));
        Assert.True((await hosts.RecordReportAsync(new ConvergeReport(ids[0], 2, true, "", release, [], Now, Now), "HostConverged", "{}", Now, ct)).Accepted);
        Assert.Equal((2L, true), await hosts.SetDesiredReleaseAsync(ids[1], release, "{}", Now, ct));
        var gone = Identifiers.New("h");

        var changes = await hosts.SetDesiredReleasesAsync([.. ids, gone], release, null, null, "{\"batch\":true}", Now, ct);
        var again = await hosts.SetDesiredReleasesAsync(ids, release, null, null, "{\"batch\":true}", Now, ct);

        Assert.Equal(new DesiredReleaseChange(2, false, 2), changes[ids[0]]);
        Assert.False(changes[ids[0]].NeedsConverge);
        Assert.Equal(new DesiredReleaseChange(2, false, 0), changes[ids[1]]);
        Assert.True(changes[ids[1]].NeedsConverge);
        Assert.Equal(new DesiredReleaseChange(2, true, 0), changes[ids[2]]);
        Assert.False(changes.ContainsKey(gone));
        Assert.All(again.Values, c => Assert.False(c.Changed));
        Assert.Equal(release, (await hosts.FindAsync(ids[2], ct))!.DesiredRelease);
        var recorded = await events.ListAsync(Now.AddMinutes(-1), "HostSpecChanged", ids[2], 100, ct);
        Assert.Single(recorded, e => e.DataJson.Contains("batch", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RecordReportAsync_OlderGenerationAfterNewer_Ignored()
    {
        var ct = TestContext.Current.CancellationToken;
        var host = NewHost($"r{Guid.NewGuid():N}"[..20]);
        Assert.Equal(TokenRedemption.Redeemed, await enrollment.EnrollAsync(await NewTokenAsync(TimeSpan.FromHours(1)), host, null, Now, "{}", NoBrokerWork, ct));
        var release = new OdooRelease("18.0", new string('e', 40));
        ConvergeReport Report(long generation, bool ok) => new(host.Id, generation, ok, ok ? "" : "boom", release, [], Now, Now);

        for (var i = 0; i < 3; i++)
        {
            await hosts.SetDesiredReleaseAsync(host.Id, release with { Commit = new string((char)('a' + i), 40) }, "{}", Now, ct);
        }

        // Generations 2..4 after enrollment's 1.
        Assert.False((await hosts.RecordReportAsync(Report(5, true), "HostConverged", "{}", Now, ct)).Accepted); // never issued
        Assert.True((await hosts.RecordReportAsync(Report(4, true), "HostConverged", "{}", Now, ct)).Accepted);
        Assert.False((await hosts.RecordReportAsync(Report(3, false), "HostConvergeFailed", "{}", Now, ct)).Accepted);

        var stored = await hosts.FindAsync(host.Id, ct);
        Assert.NotNull(stored);
        Assert.Equal(4, stored.AppliedGeneration);
        Assert.True(stored.LastConvergeSuccess);
        Assert.Equal(release, stored.RunningRelease);
    }

    [Fact]
    public async Task PublishPendingAsync_PublisherThrows_EventsStayUnpublished()
    {
        var ct = TestContext.Current.CancellationToken;
        var subject = Identifiers.New("h");
        await events.AppendAsync("Probe", subject, "{\"n\":1}", Now, ct);

        await Assert.ThrowsAsync<InvalidOperationException>(() =>
            events.PublishPendingAsync(1000, (_, _) => throw new InvalidOperationException("broker down"), Now, ct));
        var published = new List<StoredEvent>();
        await events.PublishPendingAsync(1000, (batch, _) => { published.AddRange(batch); return Task.CompletedTask; }, Now, ct);
        await events.PublishPendingAsync(1000, (batch, _) => { published.AddRange(batch); return Task.CompletedTask; }, Now, ct);

        Assert.Single(published, e => e.Subject == subject);
    }
}
