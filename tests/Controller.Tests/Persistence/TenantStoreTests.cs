using Npgsql;
using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Persistence;
using OdooFleet.Controller.Planning;
using Xunit;

namespace OdooFleet.Controller.Tests.Persistence;

public sealed class TenantStoreTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private static readonly DateTimeOffset Now = new(2026, 12, 5, 8, 0, 0, TimeSpan.Zero);
    private readonly TenantStore tenants = new(fixture.Database.DataSource);
    private readonly EnrollmentStore enrollment = new(fixture.Database.DataSource);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Unique(string prefix) => $"{prefix}{Guid.NewGuid():N}"[..16];

    private async Task<HostRecord> EnrollAsync()
    {
        var token = Identifiers.Hash(Identifiers.NewSecret("oft"));
        await enrollment.CreateTokenAsync(Identifiers.New("t"), token, Now, Now.AddHours(1), Ct);
        var host = new HostRecord(
            Identifiers.New("h"), Unique("n"), "10.0.0.1", Now, null, null, null, 0, null, 0, 0, null, false, "", "q");
        Assert.Equal(TokenRedemption.Redeemed, await enrollment.EnrollAsync(token, host, null, Now, "{}", _ => Task.CompletedTask, Ct));
        return host;
    }

    private static TenantRequest Request(string name, params string[] domains) =>
        new(name, domains.Length == 0 ? [$"{name}.example.com"] : domains, "small", null, new Dictionary<string, string>(), ["base"]);

    /// <summary>Places on the given host only (the pure placement is tested on its own).</summary>
    private static Func<IReadOnlyDictionary<string, TenantLoad>, PlacementDecision> On(HostRecord host) => loads =>
    {
        var verdict = new HostVerdict(host.Id, host.Name, true, 1, [$"fits with {loads.GetValueOrDefault(host.Id, TenantLoad.None).Tenants} placed"]);
        return new PlacementDecision(verdict, [verdict], "test");
    };

    private static PlacementDecision Nowhere(IReadOnlyDictionary<string, TenantLoad> loads) => new(null, [], "no host fits");

    private async Task<long> DesiredGenerationAsync(string hostId)
    {
        await using var cmd = fixture.Database.DataSource.CreateCommand("SELECT desired_generation FROM hosts WHERE id = $1");
        cmd.Parameters.AddWithValue(hostId);
        return (long)(await cmd.ExecuteScalarAsync(Ct))!;
    }

    [Fact]
    public async Task CreateAsync_New_StoredOnTheHostWithANewGenerationAndAnEvent()
    {
        var host = await EnrollAsync();
        var before = await DesiredGenerationAsync(host.Id);
        var name = Unique("t");
        var result = await tenants.CreateAsync(Identifiers.New("n"), Request(name, $"{name}.example.com", $"www.{name}.example.com"), On(host), Now, Ct);

        Assert.Equal(TenantCreation.Created, result.Outcome);
        Assert.Equal(before + 1, result.Generation);
        Assert.Equal(result.Generation, await DesiredGenerationAsync(host.Id));
        var stored = await tenants.FindAsync(name, Ct);
        Assert.NotNull(stored);
        Assert.Equal((host.Id, host.Name, TenantState.Creating, name), (stored.HostId, stored.HostName, stored.State, stored.DatabaseName));
        Assert.Equal($"{name}.example.com", stored.PrimaryDomain);
        Assert.Equal([$"www.{name}.example.com"], stored.Aliases);
        Assert.Equal(1, (await tenants.LoadsAsync(Ct))[host.Id].Tenants);

        await using var events = fixture.Database.DataSource.CreateCommand("SELECT count(*) FROM events WHERE type = 'TenantCreated' AND subject = $1");
        events.Parameters.AddWithValue(stored.Id);
        Assert.Equal(1L, await events.ExecuteScalarAsync(Ct));
    }

    [Fact]
    public async Task RecordReportAsync_SaysWhetherTheHostHasTenants_SoTenantBookkeepingIsSkippedOnlyForHostsWithout()
    {
        var hosts = new HostStore(fixture.Database.DataSource);
        var bare = await EnrollAsync();
        var withTenant = await EnrollAsync();
        var created = await tenants.CreateAsync(Identifiers.New("n"), Request(Unique("t")), On(withTenant), Now, Ct);
        var release = new OdooRelease("18.0", new string('a', 40));

        var bareReport = await hosts.RecordReportAsync(new ConvergeReport(bare.Id, 1, true, "", release, [], Now, Now), "HostConverged", "{}", Now, Ct);
        var tenantReport = await hosts.RecordReportAsync(
            new ConvergeReport(withTenant.Id, created.Generation, true, "", release, [], Now, Now), "HostConverged", "{}", Now, Ct);
        var staleReport = await hosts.RecordReportAsync(new ConvergeReport(withTenant.Id, 1, true, "", release, [], Now, Now), "HostConverged", "{}", Now, Ct);

        Assert.Equal(new ReportRecorded(Accepted: true, HostHasTenants: false), bareReport);
        Assert.Equal(new ReportRecorded(Accepted: true, HostHasTenants: true), tenantReport);
        Assert.False(staleReport.Accepted);
    }

    [Fact]
    public async Task CreateAsync_SameRequestTwice_SecondIsANoOp()
    {
        var host = await EnrollAsync();
        var name = Unique("t");
        var first = await tenants.CreateAsync(Identifiers.New("n"), Request(name), On(host), Now, Ct);
        var second = await tenants.CreateAsync(Identifiers.New("n"), Request(name), On(host), Now.AddMinutes(1), Ct);

        Assert.Equal(TenantCreation.AlreadyExists, second.Outcome);
        Assert.Equal(first.Tenant!.Id, second.Tenant!.Id);
        Assert.Equal(first.Generation, second.Generation);
        Assert.Equal(1, (await tenants.LoadsAsync(Ct))[host.Id].Tenants);
    }

    [Fact]
    public async Task CreateAsync_SameNameOtherArguments_NameTaken()
    {
        var host = await EnrollAsync();
        var name = Unique("t");
        await tenants.CreateAsync(Identifiers.New("n"), Request(name), On(host), Now, Ct);

        var other = await tenants.CreateAsync(Identifiers.New("n"), Request(name) with { Plan = "large" }, On(host), Now, Ct);

        Assert.Equal(TenantCreation.NameTaken, other.Outcome);
        Assert.Equal("small", other.Tenant!.Plan);
    }

    [Fact]
    public async Task CreateAsync_DomainOfAnotherTenant_DomainTakenAndNothingStored()
    {
        var host = await EnrollAsync();
        var (a, b) = (Unique("a"), Unique("b"));
        await tenants.CreateAsync(Identifiers.New("n"), Request(a, $"{a}.example.com", $"shop.{a}.example.com"), On(host), Now, Ct);

        var result = await tenants.CreateAsync(Identifiers.New("n"), Request(b, $"{b}.example.com", $"shop.{a}.example.com"), On(host), Now, Ct);

        Assert.Equal(TenantCreation.DomainTaken, result.Outcome);
        Assert.Equal($"shop.{a}.example.com (tenant {a})", result.Detail);
        Assert.Null(await tenants.FindAsync(b, Ct));
    }

    [Fact]
    public async Task TenantDomains_DuplicateInsertedDirectly_RefusedByPostgres()
    {
        var host = await EnrollAsync();
        var (a, b) = (Unique("a"), Unique("b"));
        await tenants.CreateAsync(Identifiers.New("n"), Request(a), On(host), Now, Ct);
        var other = await tenants.CreateAsync(Identifiers.New("n"), Request(b), On(host), Now, Ct);

        await using var cmd = fixture.Database.DataSource.CreateCommand("INSERT INTO tenant_domains (domain, tenant_id, position) VALUES ($1, $2, 1)");
        cmd.Parameters.AddWithValue($"{a}.example.com");
        cmd.Parameters.AddWithValue(other.Tenant!.Id);
        var error = await Assert.ThrowsAsync<PostgresException>(() => cmd.ExecuteNonQueryAsync(Ct));
        Assert.Equal(PostgresErrorCodes.UniqueViolation, error.SqlState);
    }

    [Fact]
    public async Task CreateAsync_NoHostFits_NothingStored()
    {
        var name = Unique("t");
        var result = await tenants.CreateAsync(Identifiers.New("n"), Request(name), Nowhere, Now, Ct);

        Assert.Equal(TenantCreation.NoHostFits, result.Outcome);
        Assert.Null(await tenants.FindAsync(name, Ct));
    }

    [Fact]
    public async Task CreateAsync_ConcurrentCreates_PlacementSeesEveryEarlierTenant()
    {
        var host = await EnrollAsync();
        var seen = new System.Collections.Concurrent.ConcurrentBag<int>();
        PlacementDecision Counting(IReadOnlyDictionary<string, TenantLoad> loads)
        {
            seen.Add(loads.GetValueOrDefault(host.Id, TenantLoad.None).Tenants);
            return On(host)(loads);
        }

        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => tenants.CreateAsync(Identifiers.New("n"), Request(Unique("c")), Counting, Now, Ct)));

        // Serialised by the placement lock: each placement saw a different number of tenants already there.
        Assert.Equal(Enumerable.Range(0, 8), seen.Order());
    }

    [Fact]
    public async Task ListAsync_FiltersAndSearch()
    {
        var host = await EnrollAsync();
        var other = await EnrollAsync();
        var tag = Unique("q");
        await tenants.CreateAsync(Identifiers.New("n"), Request($"{tag}-alpha", $"{tag}-alpha.erp.com"), On(host), Now, Ct);
        await tenants.CreateAsync(Identifiers.New("n"), Request($"{tag}-beta", $"{tag}-beta.erp.com", $"shop-{tag}.example.org"), On(other), Now, Ct);
        await tenants.CreateAsync(Identifiers.New("n"), Request($"{tag}-gamma"), On(other), Now, Ct);

        async Task<string[]> Names(TenantFilter filter) => [.. (await tenants.ListAsync(filter, Ct)).Select(t => t.Name)];

        Assert.Equal([$"{tag}-alpha", $"{tag}-beta", $"{tag}-gamma"], await Names(new(null, null, tag, 100)));
        Assert.Equal([$"{tag}-beta"], await Names(new(null, null, $"shop-{tag}", 100)));
        Assert.Equal([$"{tag}-beta"], await Names(new(null, null, $"SHOP-{tag.ToUpperInvariant()}.EXAMPLE", 100)));
        Assert.Equal([$"{tag}-alpha"], await Names(new(host.Id, null, "", 100)));
        Assert.Equal([$"{tag}-beta", $"{tag}-gamma"], await Names(new(other.Id, TenantState.Creating, "", 100)));
        Assert.Empty(await Names(new(other.Id, TenantState.Active, "", 100)));
        Assert.Empty(await Names(new(null, null, $"{tag}%", 100)));
        Assert.Empty(await Names(new(null, null, "o'brien\\_%", 100)));
        Assert.Equal(2, (await tenants.ListAsync(new(null, null, tag, 1), Ct)).Count);
    }

    [Fact]
    public async Task ForHostAndMarkCreated_TenantsOfTheHostBecomeActiveOnceItsGenerationConverged()
    {
        var host = await EnrollAsync();
        var name = Unique("t");
        var created = await tenants.CreateAsync(Identifiers.New("n"), Request(name, $"{name}.example.com", $"www.{name}.example.com"), On(host), Now, Ct);

        var onHost = Assert.Single(await tenants.ForHostAsync(host.Id, Ct));
        Assert.Equal([$"www.{name}.example.com"], onHost.Aliases);
        Assert.Empty(await tenants.MarkCreatedAsync(host.Id, created.Generation - 1, Now, Ct));
        Assert.Equal([name], await tenants.MarkCreatedAsync(host.Id, created.Generation, Now, Ct));
        Assert.Empty(await tenants.MarkCreatedAsync(host.Id, created.Generation, Now, Ct));
        Assert.Equal(TenantState.Active, (await tenants.FindAsync(name, Ct))!.State);
    }

    private async Task<TenantCreateResult> CreateActiveAsync(HostRecord host, string name)
    {
        var created = await tenants.CreateAsync(Identifiers.New("n"), Request(name), On(host), Now, Ct);
        Assert.Equal([name], await tenants.MarkCreatedAsync(host.Id, created.Generation, Now, Ct));
        return created;
    }

    private async Task<long> EventCountAsync(string type, string tenantId)
    {
        await using var events = fixture.Database.DataSource.CreateCommand("SELECT count(*) FROM events WHERE type = $1 AND subject = $2");
        events.Parameters.AddWithValue(type);
        events.Parameters.AddWithValue(tenantId);
        return (long)(await events.ExecuteScalarAsync(Ct))!;
    }

    [Fact]
    public async Task SetDesiredStateAsync_SuspendThenResume_StateMovesOnlyWithTheReportOfItsGeneration()
    {
        var host = await EnrollAsync();
        var name = Unique("t");
        var created = await CreateActiveAsync(host, name);

        var suspend = await tenants.SetDesiredStateAsync(name, TenantDesiredState.Suspended, Now.AddMinutes(1), Ct);
        Assert.Equal(TenantChange.Changed, suspend.Outcome);
        Assert.Equal(created.Generation + 1, suspend.Generation);
        Assert.Equal(suspend.Generation, await DesiredGenerationAsync(host.Id));
        var pending = (await tenants.FindAsync(name, Ct))!;
        Assert.Equal((TenantState.Active, TenantDesiredState.Suspended, TenantState.Suspended), (pending.State, pending.DesiredState, pending.PendingState));
        Assert.Equal(TenantDesiredState.Suspended, Assert.Single(await tenants.ForHostAsync(host.Id, Ct)).DesiredState);

        var again = await tenants.SetDesiredStateAsync(name, TenantDesiredState.Suspended, Now.AddMinutes(2), Ct);
        Assert.Equal((TenantChange.Unchanged, suspend.Generation), (again.Outcome, again.Generation));
        Assert.Equal(suspend.Generation, await DesiredGenerationAsync(host.Id));

        Assert.Empty(await tenants.ApplyConvergedAsync(host.Id, suspend.Generation - 1, Now, Ct));
        Assert.Equal([(name, "suspended")], await tenants.ApplyConvergedAsync(host.Id, suspend.Generation, Now, Ct));
        Assert.Empty(await tenants.ApplyConvergedAsync(host.Id, suspend.Generation, Now, Ct));
        var suspended = (await tenants.FindAsync(name, Ct))!;
        Assert.Equal((TenantState.Suspended, (TenantState?)null), (suspended.State, suspended.PendingState));
        Assert.Equal(1, await EventCountAsync("TenantSuspended", suspended.Id));

        var resume = await tenants.SetDesiredStateAsync(name, TenantDesiredState.Active, Now.AddMinutes(3), Ct);
        Assert.Equal((TenantChange.Changed, suspend.Generation + 1), (resume.Outcome, resume.Generation));
        Assert.Equal([(name, "active")], await tenants.ApplyConvergedAsync(host.Id, resume.Generation + 5, Now, Ct));
        Assert.Equal(TenantState.Active, (await tenants.FindAsync(name, Ct))!.State);
        Assert.Equal(TenantChange.Unchanged, (await tenants.SetDesiredStateAsync(name, TenantDesiredState.Active, Now, Ct)).Outcome);
    }

    [Fact]
    public async Task SetDesiredStateAsync_SuspendWhileCreating_NotNowAndNothingChanged()
    {
        var host = await EnrollAsync();
        var name = Unique("t");
        var created = await tenants.CreateAsync(Identifiers.New("n"), Request(name), On(host), Now, Ct);

        var result = await tenants.SetDesiredStateAsync(name, TenantDesiredState.Suspended, Now, Ct);

        Assert.Equal(TenantChange.NotNow, result.Outcome);
        Assert.Equal(created.Generation, await DesiredGenerationAsync(host.Id));
        Assert.Equal((TenantState.Creating, TenantDesiredState.Active), ((await tenants.FindAsync(name, Ct))!.State, (await tenants.FindAsync(name, Ct))!.DesiredState));
    }

    [Fact]
    public async Task SetDesiredStateAsync_UnknownTenant_NotFound()
    {
        var result = await tenants.SetDesiredStateAsync(Unique("t"), TenantDesiredState.Absent, Now, Ct);

        Assert.Equal((TenantChange.NotFound, (TenantRecord?)null), (result.Outcome, result.Tenant));
    }

    [Fact]
    public async Task SetDesiredStateAsync_Delete_DeletingUntilTheReportThenRowsAndDomainsAreGone()
    {
        var host = await EnrollAsync();
        var name = Unique("t");
        var created = await CreateActiveAsync(host, name);

        var delete = await tenants.SetDesiredStateAsync(name, TenantDesiredState.Absent, Now.AddMinutes(1), Ct);
        Assert.Equal((TenantChange.Changed, created.Generation + 1), (delete.Outcome, delete.Generation));
        Assert.Equal(TenantState.Deleting, delete.Tenant!.State);
        Assert.Equal(TenantDesiredState.Absent, Assert.Single(await tenants.ForHostAsync(host.Id, Ct)).DesiredState);
        Assert.Equal(TenantChange.Unchanged, (await tenants.SetDesiredStateAsync(name, TenantDesiredState.Absent, Now, Ct)).Outcome);
        Assert.Equal(TenantChange.NotNow, (await tenants.SetDesiredStateAsync(name, TenantDesiredState.Suspended, Now, Ct)).Outcome);

        // Until the host confirms, the domain is still taken: nobody else may be served there yet.
        var other = Unique("o");
        var early = await tenants.CreateAsync(Identifiers.New("n"), Request(other, $"{name}.example.com"), On(host), Now, Ct);
        Assert.Equal(TenantCreation.DomainTaken, early.Outcome);
        Assert.Empty(await tenants.ApplyConvergedAsync(host.Id, delete.Generation - 1, Now, Ct));
        Assert.NotNull(await tenants.FindAsync(name, Ct));

        Assert.Equal([(name, "deleted")], await tenants.ApplyConvergedAsync(host.Id, delete.Generation, Now, Ct));
        Assert.Null(await tenants.FindAsync(name, Ct));
        Assert.Empty(await tenants.ForHostAsync(host.Id, Ct));
        Assert.Equal(1, await EventCountAsync("TenantDeleted", created.Tenant!.Id));
        await using var domains = fixture.Database.DataSource.CreateCommand("SELECT count(*) FROM tenant_domains WHERE tenant_id = $1");
        domains.Parameters.AddWithValue(created.Tenant.Id);
        Assert.Equal(0L, await domains.ExecuteScalarAsync(Ct));
        var later = await tenants.CreateAsync(Identifiers.New("n"), Request(name), On(host), Now, Ct);
        Assert.Equal(TenantCreation.Created, later.Outcome);
    }

    [Fact]
    public async Task SetDesiredStateAsync_DeleteWhileCreating_AllowedAndNeverBecomesActive()
    {
        var host = await EnrollAsync();
        var name = Unique("t");
        await tenants.CreateAsync(Identifiers.New("n"), Request(name), On(host), Now, Ct);

        var delete = await tenants.SetDesiredStateAsync(name, TenantDesiredState.Absent, Now, Ct);

        Assert.Equal(TenantChange.Changed, delete.Outcome);
        Assert.Empty(await tenants.MarkCreatedAsync(host.Id, delete.Generation, Now, Ct));
        Assert.Equal([(name, "deleted")], await tenants.ApplyConvergedAsync(host.Id, delete.Generation, Now, Ct));
    }

    [Fact]
    public async Task RecordSizesAsync_OwnTenants_StoredAndAnOlderReportNeverOverwritesANewerOne()
    {
        var host = await EnrollAsync();
        var (a, b, gone) = (Unique("t"), Unique("t"), Unique("t"));
        await tenants.CreateAsync(Identifiers.New("n"), Request(a), On(host), Now, Ct);
        await tenants.CreateAsync(Identifiers.New("n"), Request(b), On(host), Now, Ct);

        var first = await tenants.RecordSizesAsync(host.Id, Now, [new TenantSizeRecord(a, 8_000_000, 1234), new TenantSizeRecord(b, 9_000_000, 0), new TenantSizeRecord(gone, 1, 1)], Ct);
        var late = await tenants.RecordSizesAsync(host.Id, Now.AddMinutes(-10), [new TenantSizeRecord(a, 1, 1)], Ct);

        Assert.Equal((2, 0), (first.Recorded, first.Foreign.Count));
        Assert.Equal([gone], first.Unknown);
        Assert.Equal((0, 0, 0), (late.Recorded, late.Foreign.Count, late.Unknown.Count));
        var stored = await tenants.FindAsync(a, Ct);
        Assert.Equal((8_000_000L, 1234L, Now), (stored!.DatabaseBytes, stored.FilestoreBytes, stored.SizesMeasuredAt));
        Assert.Null(stored.LastBackupAt);
        Assert.Equal(9_000_000L, (await tenants.FindAsync(b, Ct))!.DatabaseBytes);
    }

    [Fact]
    public async Task RecordSizesAsync_OneNameOfAnotherHost_NothingStoredForAnyAndTheNameReturned()
    {
        var (host, other) = (await EnrollAsync(), await EnrollAsync());
        var (own, theirs) = (Unique("t"), Unique("t"));
        await tenants.CreateAsync(Identifiers.New("n"), Request(own), On(host), Now, Ct);
        await tenants.CreateAsync(Identifiers.New("n"), Request(theirs), On(other), Now, Ct);

        var outcome = await tenants.RecordSizesAsync(host.Id, Now, [new TenantSizeRecord(own, 5, 5), new TenantSizeRecord(theirs, 5, 5)], Ct);

        Assert.Equal([theirs], outcome.Foreign);
        Assert.Equal(0, outcome.Recorded);
        Assert.Null((await tenants.FindAsync(own, Ct))!.DatabaseBytes);
        Assert.Null((await tenants.FindAsync(theirs, Ct))!.SizesMeasuredAt);
    }

    [Fact]
    public async Task LoadsAsync_TenantOutgrewItsPlansDisk_ReservesWhatItMeasured()
    {
        var host = await EnrollAsync();
        var (fits, outgrown) = (Unique("t"), Unique("t"));
        await tenants.CreateAsync(Identifiers.New("n"), Request(fits), On(host), Now, Ct);
        await tenants.CreateAsync(Identifiers.New("n"), Request(outgrown), On(host), Now, Ct);

        await tenants.RecordSizesAsync(host.Id, Now, [new TenantSizeRecord(fits, 100L << 20, 0), new TenantSizeRecord(outgrown, 2L << 30, (1L << 30) + 1)], Ct);

        // small = 1024 MiB each; the outgrown one: 2 GiB + 1 GiB + 1 byte, rounded up to 3073 MiB.
        var load = (await tenants.LoadsAsync(Ct))[host.Id];
        Assert.Equal((2, 2 * 64L, 1024L + 3073L), (load.Tenants, load.MemoryMiB, load.DiskMiB));
    }
}
