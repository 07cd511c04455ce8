using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Transport;

namespace OdooFleet.Agent.Tests.Transport;

public sealed class JournalTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task OpenAsync_NoFile_StartsEmptyWithNothingOwed()
    {
        using var dir = new TempDirectory();
        using var journal = await Journal.OpenAsync(dir.Combine("journal.json"), TimeProvider.System, Ct);
        Assert.Equal(0, journal.Current.RecoveryGeneration());
        Assert.Null(journal.CorruptCopy);
    }

    [Fact]
    public async Task MarkPendingAsync_ThenReopen_RecoversPendingGeneration()
    {
        using var dir = new TempDirectory();
        var path = dir.Combine("journal.json");
        using (var journal = await Journal.OpenAsync(path, TimeProvider.System, Ct))
        {
            await journal.MarkPendingAsync(7, Ct);
        }

        using var reopened = await Journal.OpenAsync(path, TimeProvider.System, Ct);
        Assert.Equal(7, reopened.Current.PendingGeneration);
        Assert.Equal(7, reopened.Current.RecoveryGeneration());
    }

    [Fact]
    public async Task UpdateAsync_Written_LeavesNoTempFilesAndIsPrivate()
    {
        using var dir = new TempDirectory();
        var path = dir.Combine("journal.json");
        using var journal = await Journal.OpenAsync(path, TimeProvider.System, Ct);
        for (var generation = 1; generation <= 5; generation++)
        {
            await journal.MarkPendingAsync(generation, Ct);
        }

        Assert.Equal(["journal.json"], Directory.GetFiles(dir.Path).Select(Path.GetFileName));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        using var parsed = JsonDocument.Parse(await File.ReadAllTextAsync(path, Ct));
        Assert.Equal(5, parsed.RootElement.GetProperty("pendingGeneration").GetInt64());
    }

    [Fact]
    public async Task RecordConvergeAsync_AppliedButNotReported_IsRedoneAfterRestart()
    {
        using var dir = new TempDirectory();
        var path = dir.Combine("journal.json");
        using (var journal = await Journal.OpenAsync(path, TimeProvider.System, Ct))
        {
            await journal.MarkPendingAsync(3, Ct);
            await journal.RecordConvergeAsync(Converged(3, success: true), Ct);
        }

        using var reopened = await Journal.OpenAsync(path, TimeProvider.System, Ct);
        Assert.Equal(3, reopened.Current.AppliedGeneration);
        Assert.Equal(0, reopened.Current.PendingGeneration);
        Assert.Equal(3, reopened.Current.RecoveryGeneration());
        Assert.Equal(ResourceStatus.Changed, reopened.Current.Last!.Results[0].Status);
    }

    [Fact]
    public async Task RecordReportedAsync_AfterSuccess_NothingOwedAndReportedAdvances()
    {
        using var dir = new TempDirectory();
        using var journal = await Journal.OpenAsync(dir.Combine("journal.json"), TimeProvider.System, Ct);
        await journal.MarkPendingAsync(4, Ct);
        await journal.RecordConvergeAsync(Converged(4, success: true), Ct);
        await journal.RecordReportedAsync(4, Ct);
        Assert.Equal(0, journal.Current.RecoveryGeneration());
        Assert.Equal(4, journal.Current.ReportedGeneration);
    }

    [Fact]
    public async Task RecordConvergeAsync_Failed_KeepsPendingSoRestartRetries()
    {
        using var dir = new TempDirectory();
        using var journal = await Journal.OpenAsync(dir.Combine("journal.json"), TimeProvider.System, Ct);
        await journal.MarkPendingAsync(5, Ct);
        await journal.RecordConvergeAsync(Converged(5, success: false), Ct);
        await journal.RecordReportedAsync(5, Ct);
        Assert.Equal(0, journal.Current.AppliedGeneration);
        Assert.Equal(0, journal.Current.ReportedGeneration);
        Assert.Equal(5, journal.Current.RecoveryGeneration());
    }

    [Fact]
    public async Task OpenAsync_CorruptFile_MovesItAsideAndStartsEmpty()
    {
        using var dir = new TempDirectory();
        var path = dir.Combine("journal.json");
        await File.WriteAllTextAsync(path, "{\"pendingGeneration\": 3, trunc", Ct);
        var time = new FakeTimeProvider(new DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero));
        using var journal = await Journal.OpenAsync(path, time, Ct);
        Assert.Equal(path + ".corrupt-20250102T030405Z", journal.CorruptCopy);
        Assert.True(File.Exists(journal.CorruptCopy));
        Assert.Equal(0, journal.Current.PendingGeneration);
    }

    private static LastConverge Converged(long generation, bool success) => new()
    {
        Generation = generation,
        Success = success,
        StartedAt = DateTimeOffset.UnixEpoch,
        FinishedAt = DateTimeOffset.UnixEpoch,
        Error = success ? null : "file:/etc/odoo.conf: disk full",
        Results = [new JournalResult("file:/etc/odoo.conf", "file", ResourceStatus.Changed, "create", 3)],
    };
}
