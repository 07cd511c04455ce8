using System.Security.Cryptography;
using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Persistence;
using OdooFleet.Controller.Planning;
using Xunit;

namespace OdooFleet.Controller.Tests.Persistence;

/// <summary>
/// The move state machine on a real PostgreSQL: each step is taken only on the fact that allows it
/// (an upload with the right sha256, a converge report of the generation that carries the step), a
/// repeated fact changes nothing, and a new store on the same database (what a controller restarted
/// or another controller process is) carries a move on from where it stands.
/// </summary>
public sealed class TenantMoveStoreTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private static readonly DateTimeOffset Now = new(2026, 12, 5, 8, 0, 0, TimeSpan.Zero);
    private readonly TenantStore tenants = new(fixture.Database.DataSource);
    private readonly EnrollmentStore enrollment = new(fixture.Database.DataSource);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Unique(string prefix) => $"{prefix}{Guid.NewGuid():N}"[..16];

    /// <summary>A store as a freshly started controller process has it: nothing but the database.</summary>
    private TenantMoveStore NewController() => new(fixture.Database.DataSource);

    private async Task<HostRecord> EnrollAsync()
    {
        var token = Identifiers.Hash(Identifiers.NewSecret("oft"));
        await enrollment.CreateTokenAsync(Identifiers.New("t"), token, Now, Now.AddHours(1), Ct);
        var host = new HostRecord(
            Identifiers.New("h"), Unique("n"), "10.0.0.1", Now, null, null, null, 0, null, 0, 0, null, false, "", "q");
        Assert.Equal(TokenRedemption.Redeemed, await enrollment.EnrollAsync(token, host, null, Now, "{}", _ => Task.CompletedTask, Ct));
        return host;
    }

    /// <summary>An active tenant on <paramref name="host"/> (created, and its host reported the generation).</summary>
    private async Task<TenantRecord> ActiveTenantAsync(HostRecord host)
    {
        var name = Unique("t");
        var created = await tenants.CreateAsync(
            Identifiers.New("n"),
            new TenantRequest(name, [$"{name}.example.com"], "small", null, new Dictionary<string, string>(), ["base"]),
            _ =>
            {
                var verdict = new HostVerdict(host.Id, host.Name, true, 1, []);
                return new PlacementDecision(verdict, [verdict], "test");
            },
            Now, Ct);
        Assert.Equal([name], await tenants.MarkCreatedAsync(host.Id, created.Generation, Now, Ct));
        return (await tenants.FindAsync(name, Ct))!;
    }

    private async Task<(HostRecord Source, HostRecord Target, TenantRecord Tenant, TenantMoveRecord Move)> StartedAsync()
    {
        var (source, target) = (await EnrollAsync(), await EnrollAsync());
        var tenant = await ActiveTenantAsync(source);
        var started = await NewController().StartAsync(Identifiers.New("m"), tenant.Name, target.Id, Now, Ct);
        Assert.Equal(TenantMoveStart.Started, started.Outcome);
        return (source, target, tenant, started.Move!);
    }

    private static (MemoryStream Body, string Sha256) Archive(int bytes)
    {
        var data = new byte[bytes];
        Random.Shared.NextBytes(data);
        return (new MemoryStream(data), Convert.ToHexStringLower(SHA256.HashData(data)));
    }

    private async Task<long> ChunkBytesAsync(string moveId)
    {
        await using var cmd = fixture.Database.DataSource.CreateCommand("SELECT COALESCE(sum(length(data)), 0)::bigint FROM tenant_move_chunks WHERE move_id = $1");
        cmd.Parameters.AddWithValue(moveId);
        return (long)(await cmd.ExecuteScalarAsync(Ct))!;
    }

    private async Task<List<string>> EventsAsync(string tenantId)
    {
        await using var cmd = fixture.Database.DataSource.CreateCommand("SELECT type FROM events WHERE subject = $1 AND type LIKE 'TenantMove%' ORDER BY id");
        cmd.Parameters.AddWithValue(tenantId);
        var types = new List<string>();
        await using var reader = await cmd.ExecuteReaderAsync(Ct);
        while (await reader.ReadAsync(Ct))
        {
            types.Add(reader.GetString(0));
        }

        return types;
    }

    private async Task<TenantRecord?> InSpecAsync(HostRecord host, string tenantId) =>
        (await NewController().ApplyToSpecAsync(host.Id, await tenants.ForHostAsync(host.Id, Ct), Ct)).SingleOrDefault(t => t.Id == tenantId);

    [Fact]
    public async Task Move_EachStepOnItsFact_AcrossControllerRestarts_EndsOnTheTargetAndFreesTheArchive()
    {
        var (source, target, tenant, move) = await StartedAsync();

        // exporting: the source serves the tenant suspended and exports it; the target knows nothing yet.
        var onSource = await InSpecAsync(source, tenant.Id);
        Assert.Equal((TenantDesiredState.Suspended, move.Id, move.ArchivePath), (onSource!.DesiredState, onSource.MoveOut!.MoveId, onSource.MoveOut.UploadPath));
        Assert.Null(await InSpecAsync(target, tenant.Id));

        // A report of the source before the export changes nothing (no upload yet, no failure).
        Assert.Empty(await NewController().ApplyReportAsync(source.Id, move.SourceGeneration, true, true, "", Now, Ct));

        var (body, sha) = Archive((2 * TenantMoveStore.ChunkBytes) + 123);
        var stored = await NewController().StoreArchiveAsync(move.Id, source.Id, body, sha, 1L << 30, Now, Ct);
        Assert.Equal(ArchiveUpload.Stored, stored.Outcome);
        Assert.Equal(body.Length, await ChunkBytesAsync(move.Id));
        body.Position = 0;
        Assert.Equal(ArchiveUpload.AlreadyStored, (await NewController().StoreArchiveAsync(move.Id, source.Id, body, sha, 1L << 30, Now, Ct)).Outcome);

        // importing: the target restores it from the archive; the source still serves it suspended.
        var onTarget = await InSpecAsync(target, tenant.Id);
        Assert.Equal((TenantDesiredState.Active, sha, body.Length), (onTarget!.DesiredState, onTarget.MoveIn!.Sha256, onTarget.MoveIn.Bytes));
        Assert.Equal(TenantDesiredState.Suspended, (await InSpecAsync(source, tenant.Id))!.DesiredState);
        var downloaded = new MemoryStream();
        Assert.Null(await NewController().ReadArchiveAsync(move.Id, target.Id, _ => downloaded, Ct));
        Assert.Equal(body.ToArray(), downloaded.ToArray());
        Assert.NotNull(await NewController().ReadArchiveAsync(move.Id, source.Id, _ => Stream.Null, Ct));

        // A success without a running release proves nothing about Odoo serving it: no switch.
        var targetGeneration = stored.Move!.TargetGeneration;
        Assert.Empty(await NewController().ApplyReportAsync(target.Id, targetGeneration, true, false, "", Now, Ct));
        var switched = Assert.Single(await NewController().ApplyReportAsync(target.Id, targetGeneration, true, true, "", Now, Ct));
        Assert.Equal(TenantMoveStep.Switched, switched.Move.Step);
        Assert.Equal([(source.Id, switched.Move.SourceGeneration)], switched.Tell);
        Assert.Equal(target.Id, (await tenants.FindAsync(tenant.Id, Ct))!.HostId);
        Assert.Null((await InSpecAsync(target, tenant.Id))!.MoveIn);
        Assert.Equal(TenantDesiredState.Absent, (await InSpecAsync(source, tenant.Id))!.DesiredState);

        // The same report again (a retry to another controller) changes nothing.
        Assert.Empty(await NewController().ApplyReportAsync(target.Id, targetGeneration, true, true, "", Now, Ct));
        // A failure of the source after the switch does not roll back: its removal is retried.
        Assert.Empty(await NewController().ApplyReportAsync(source.Id, switched.Move.SourceGeneration, false, true, "nginx -t failed", Now, Ct));

        var done = Assert.Single(await NewController().ApplyReportAsync(source.Id, switched.Move.SourceGeneration, true, true, "", Now, Ct));
        Assert.Equal(TenantMoveStep.Done, done.Move.Step);
        Assert.Null(await InSpecAsync(source, tenant.Id));
        Assert.Equal(0, await ChunkBytesAsync(move.Id));
        Assert.Equal(["TenantMoveRequested", "TenantMoveExported", "TenantMoveSwitched", "TenantMoved"], await EventsAsync(tenant.Id));
        Assert.Equal(TenantMoveStep.Done, (await NewController().LatestForTenantAsync(tenant.Id, Ct))!.Step);
    }

    [Fact]
    public async Task StoreArchive_WrongSha256OrWrongHost_NothingStoredStillExporting()
    {
        var (source, target, _, move) = await StartedAsync();
        var (body, _) = Archive(5000);

        Assert.Equal(ArchiveUpload.Corrupt, (await NewController().StoreArchiveAsync(move.Id, source.Id, body, new string('a', 64), 1L << 30, Now, Ct)).Outcome);
        body.Position = 0;
        Assert.Equal(ArchiveUpload.WrongHost, (await NewController().StoreArchiveAsync(move.Id, target.Id, body, new string('a', 64), 1L << 30, Now, Ct)).Outcome);
        body.Position = 0;
        Assert.Equal(ArchiveUpload.TooLarge, (await NewController().StoreArchiveAsync(move.Id, source.Id, body, new string('a', 64), 4000, Now, Ct)).Outcome);

        Assert.Equal(0, await ChunkBytesAsync(move.Id));
        Assert.Equal(TenantMoveStep.Exporting, (await NewController().FindAsync(move.Id, Ct))!.Step);
    }

    [Fact]
    public async Task ImportFails_RollsBack_TargetDropsItSourceServesAgain_ThenTheTenantTakesOtherOperations()
    {
        var (source, target, tenant, move) = await StartedAsync();
        var (body, sha) = Archive(1000);
        var stored = await NewController().StoreArchiveAsync(move.Id, source.Id, body, sha, 1L << 30, Now, Ct);

        var failed = Assert.Single(await NewController().ApplyReportAsync(target.Id, stored.Move!.TargetGeneration, false, true, "restore failed", Now, Ct));
        Assert.Equal(TenantMoveStep.RollingBack, failed.Move.Step);
        Assert.Contains("restore failed", failed.Move.Error, StringComparison.Ordinal);
        Assert.Equal([source.Id, target.Id], failed.Tell.Select(t => t.HostId));
        Assert.Equal(TenantDesiredState.Absent, (await InSpecAsync(target, tenant.Id))!.DesiredState);
        var back = await InSpecAsync(source, tenant.Id);
        Assert.Equal((TenantDesiredState.Active, null), (back!.DesiredState, back.MoveOut));
        Assert.Equal(source.Id, (await tenants.FindAsync(tenant.Id, Ct))!.HostId);
        Assert.Equal(TenantChange.Moving, (await tenants.SetDesiredStateAsync(tenant.Name, TenantDesiredState.Suspended, Now, Ct)).Outcome);

        var rolledBack = Assert.Single(await NewController().ApplyReportAsync(target.Id, failed.Move.TargetGeneration, true, true, "", Now, Ct));
        Assert.Equal(TenantMoveStep.RolledBack, rolledBack.Move.Step);
        Assert.Null(await InSpecAsync(target, tenant.Id));
        Assert.Equal(0, await ChunkBytesAsync(move.Id));
        Assert.Equal(["TenantMoveRequested", "TenantMoveExported", "TenantMoveFailed", "TenantMoveRolledBack"], await EventsAsync(tenant.Id));
        Assert.Equal(TenantChange.Changed, (await tenants.SetDesiredStateAsync(tenant.Name, TenantDesiredState.Suspended, Now, Ct)).Outcome);
    }

    [Fact]
    public async Task ExportFails_RolledBackAtOnce_TargetNeverTold_UploadRefusedAfterwards()
    {
        var (source, target, tenant, move) = await StartedAsync();

        Assert.Empty(await NewController().ApplyReportAsync(source.Id, move.SourceGeneration - 1, false, true, "an older generation", Now, Ct));
        var failed = Assert.Single(await NewController().ApplyReportAsync(source.Id, move.SourceGeneration, false, true, "pg_dump failed", Now, Ct));

        Assert.Equal(TenantMoveStep.RolledBack, failed.Move.Step);
        Assert.Equal([source.Id], failed.Tell.Select(t => t.HostId));
        Assert.Null(await InSpecAsync(target, tenant.Id));
        Assert.Equal(TenantDesiredState.Active, (await InSpecAsync(source, tenant.Id))!.DesiredState);
        var (body, sha) = Archive(100);
        Assert.Equal(ArchiveUpload.WrongStep, (await NewController().StoreArchiveAsync(move.Id, source.Id, body, sha, 1L << 30, Now, Ct)).Outcome);
    }

    [Fact]
    public async Task Start_Twice_SameTargetUnchanged_OtherTargetBusy_SameHostAndInactiveRefused()
    {
        var (source, target, tenant, move) = await StartedAsync();
        var other = await EnrollAsync();

        var again = await NewController().StartAsync(Identifiers.New("m"), tenant.Name, target.Id, Now, Ct);
        Assert.Equal((TenantMoveStart.AlreadyUnderWay, move.Id), (again.Outcome, again.Move!.Id));
        Assert.Equal(TenantMoveStart.Busy, (await NewController().StartAsync(Identifiers.New("m"), tenant.Name, other.Id, Now, Ct)).Outcome);
        Assert.Equal(TenantMoveStart.NotFound, (await NewController().StartAsync(Identifiers.New("m"), Unique("x"), other.Id, Now, Ct)).Outcome);

        var resting = await ActiveTenantAsync(source);
        Assert.Equal(TenantMoveStart.SameHost, (await NewController().StartAsync(Identifiers.New("m"), resting.Name, source.Id, Now, Ct)).Outcome);
        Assert.Equal(TenantChange.Changed, (await tenants.SetDesiredStateAsync(resting.Name, TenantDesiredState.Suspended, Now, Ct)).Outcome);
        Assert.Equal(TenantMoveStart.NotActive, (await NewController().StartAsync(Identifiers.New("m"), resting.Name, target.Id, Now, Ct)).Outcome);
    }

    [Fact]
    public async Task RecordReportAndFindForSpec_SayWhetherTheHostIsInAnOpenMove_SourceAndTargetUntilTheMoveEnds()
    {
        var hosts = new HostStore(fixture.Database.DataSource);
        var bystander = await EnrollAsync();
        var (source, target, _, move) = await StartedAsync();
        var release = new OdooRelease("18.0", new string('a', 40));
        Task<ReportRecorded> ReportAsync(HostRecord host, long generation) =>
            hosts.RecordReportAsync(new ConvergeReport(host.Id, generation, true, "", release, [], Now, Now), "HostConverged", "{}", Now, Ct);

        Assert.Equal(new ReportRecorded(Accepted: true, HostHasTenants: true, HostHasOpenMoves: true), await ReportAsync(source, move.SourceGeneration - 1));
        Assert.Equal(new ReportRecorded(Accepted: true, HostHasTenants: false, HostHasOpenMoves: true), await ReportAsync(target, 0));
        Assert.Equal(new ReportRecorded(Accepted: true, HostHasTenants: false, HostHasOpenMoves: false), await ReportAsync(bystander, 0));
        async Task<(bool, bool)> SpecFlagsAsync(HostRecord host) =>
            await hosts.FindForSpecAsync(host.Id, Ct) is { } found ? (found.HasTenants, found.HasOpenMoves) : throw new InvalidOperationException(host.Id);
        Assert.Equal((true, true), await SpecFlagsAsync(source));
        Assert.Equal((false, true), await SpecFlagsAsync(target));
        Assert.Equal((false, false), await SpecFlagsAsync(bystander));
        Assert.Null(await hosts.FindForSpecAsync("h-none", Ct));

        // The export fails: the move is rolled back (finished), so the source's next report needs no move query.
        Assert.Single(await NewController().ApplyReportAsync(source.Id, move.SourceGeneration, false, true, "pg_dump failed", Now, Ct));
        Assert.Equal(new ReportRecorded(Accepted: true, HostHasTenants: true, HostHasOpenMoves: false), await ReportAsync(source, move.SourceGeneration));
        Assert.Equal((false, false), await SpecFlagsAsync(target));
    }
}
