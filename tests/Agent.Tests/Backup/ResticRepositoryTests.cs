using Microsoft.Extensions.Time.Testing;
using OdooFleet.Agent.Backup;
using OdooFleet.Agent.Engine;

namespace OdooFleet.Agent.Tests.Backup;

/// <summary>The restic wrapper against the real restic binary and a local repository.</summary>
public sealed class ResticRepositoryTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task InitAsync_Twice_CreatesOnceThenFindsTheRepository()
    {
        Assert.SkipUnless(ResticTestRepository.Installed, "restic is not installed");
        using var restic = new ResticTestRepository();

        var first = await restic.Repository.InitAsync(Ct);
        var config = File.ReadAllBytes(restic.Temp.Combine("repo", "config"));
        var second = await restic.Repository.InitAsync(Ct);

        Assert.True(first);
        Assert.False(second);
        Assert.Equal(config, File.ReadAllBytes(restic.Temp.Combine("repo", "config")));
    }

    [Fact]
    public async Task BackupAsync_TaggedDirectory_SnapshotsListsItWithTagHostTimeAndPath()
    {
        Assert.SkipUnless(ResticTestRepository.Installed, "restic is not installed");
        using var restic = new ResticTestRepository();
        await restic.Repository.InitAsync(Ct);
        var data = Directory.CreateDirectory(restic.Temp.Combine("data")).FullName;
        await File.WriteAllTextAsync(Path.Combine(data, "a.txt"), "hello", Ct);
        var at = new DateTimeOffset(2026, 3, 4, 5, 6, 7, TimeSpan.Zero);

        var summary = await restic.Repository.BackupAsync([data], ["tenant=acme"], "web-01", at, Ct);
        var acme = await restic.Repository.SnapshotsAsync(["tenant=acme"], Ct);
        var other = await restic.Repository.SnapshotsAsync(["tenant=other"], Ct);

        var snapshot = Assert.Single(acme);
        Assert.StartsWith(summary.SnapshotId, snapshot.Id, StringComparison.Ordinal);
        Assert.Equal(1, summary.FilesNew);
        Assert.Equal(5, summary.TotalBytesProcessed);
        Assert.Equal(["tenant=acme"], snapshot.Tags);
        Assert.Equal("web-01", snapshot.Host);
        Assert.Equal(at, snapshot.Time);
        Assert.Equal([data], snapshot.Paths);
        Assert.Empty(other);
    }

    [Fact]
    public async Task ForgetAsync_OneBackupPerSimulatedDayFor100Days_KeepsExactlyWhatThePolicyPredicts()
    {
        Assert.SkipUnless(ResticTestRepository.Installed, "restic is not installed");
        using var restic = new ResticTestRepository();
        await restic.Repository.InitAsync(Ct);
        var data = Directory.CreateDirectory(restic.Temp.Combine("data")).FullName;
        var policy = RetentionPolicy.Default;
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 3, 0, 0, TimeSpan.Zero)); // a Thursday
        await File.WriteAllTextAsync(Path.Combine(data, "other.txt"), "another tenant", Ct);
        await restic.Repository.BackupAsync([data], ["tenant=other"], "web-01", clock.GetUtcNow().AddDays(-30), Ct);
        IReadOnlySet<DateTimeOffset> expected = new HashSet<DateTimeOffset>();

        for (var day = 0; day < 100; day++)
        {
            await File.WriteAllTextAsync(Path.Combine(data, "day.txt"), $"day {day}", Ct);
            var now = clock.GetUtcNow();
            await restic.Repository.BackupAsync([data], ["tenant=acme"], "web-01", now, Ct);
            // The policy decides per run; pruning the data of forgotten snapshots (the slow part) once at the end changes no snapshot.
            await restic.Repository.ForgetAsync(policy, ["tenant=acme"], prune: day == 99, Ct);
            expected = policy.Keep([.. expected, now]);
            clock.Advance(TimeSpan.FromDays(1));
        }

        var kept = (await restic.Repository.SnapshotsAsync(["tenant=acme"], Ct)).Select(s => s.Time).Order().ToList();
        var last = new DateTimeOffset(2026, 4, 10, 3, 0, 0, TimeSpan.Zero); // day 100, a Friday
        Assert.Equal(expected.Order(), kept);

        // 7 daily (Apr 4-10); weekly adds Mar 29 and Mar 22 (the two newer weeks end on kept days);
        // monthly adds Mar 31 and Feb 28 (April's newest is Apr 10): 7 + 2 + 2.
        Assert.Equal(11, kept.Count);
        Assert.Equal(
            [.. new[] { -41, -19, -12, -10 }.Select(d => last.AddDays(d)), .. Enumerable.Range(-6, 7).Select(d => last.AddDays(d))],
            kept);
        Assert.Equal(expected.Order(), policy.Keep(Enumerable.Range(0, 100).Select(d => last.AddDays(d - 99))).Order());
        Assert.Single(await restic.Repository.SnapshotsAsync(["tenant=other"], Ct)); // another tenant's history is not touched
        await restic.Repository.CheckAsync(100, Ct);
    }

    [Fact]
    public async Task CheckAsync_PackFileBytesFlipped_ReadDataRaisesRepositoryDamaged()
    {
        Assert.SkipUnless(ResticTestRepository.Installed, "restic is not installed");
        using var restic = new ResticTestRepository();
        await restic.Repository.InitAsync(Ct);
        var data = Directory.CreateDirectory(restic.Temp.Combine("data")).FullName;
        await File.WriteAllBytesAsync(Path.Combine(data, "attachment.bin"), System.Security.Cryptography.RandomNumberGenerator.GetBytes(64 * 1024), Ct);
        await restic.Repository.BackupAsync([data], ["tenant=acme"], "web-01", null, Ct);
        await restic.Repository.CheckAsync(100, Ct);

        var pack = new DirectoryInfo(restic.Temp.Combine("repo", "data")).EnumerateFiles("*", SearchOption.AllDirectories).MaxBy(f => f.Length)!;
        var bytes = await File.ReadAllBytesAsync(pack.FullName, Ct);
        for (var i = bytes.Length / 2; i < bytes.Length / 2 + 16; i++)
        {
            bytes[i] ^= 0xFF;
        }

        File.SetUnixFileMode(pack.FullName, FileModes.Mode0600); // restic writes packs read-only
        await File.WriteAllBytesAsync(pack.FullName, bytes, Ct);

        var e = await Assert.ThrowsAsync<RepositoryDamagedException>(() => restic.Repository.CheckAsync(100, Ct));

        Assert.Contains($"found damage in the repository at {restic.Location.Display}", e.Message, StringComparison.Ordinal);
        Assert.Contains(pack.Name[..8], e.Message, StringComparison.Ordinal);
        Assert.Contains("take a new backup", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SnapshotsAsync_WrongPassword_ClearErrorWithoutThePassword()
    {
        Assert.SkipUnless(ResticTestRepository.Installed, "restic is not installed");
        using var restic = new ResticTestRepository();
        await restic.Repository.InitAsync(Ct);
        const string Wrong = "not-the-password-91c2e";
        var wrongFile = restic.Temp.Combine("wrong-password");
        await File.WriteAllTextAsync(wrongFile, Wrong, Ct);
        File.SetUnixFileMode(wrongFile, FileModes.Mode0600);
        var wrong = restic.Open(wrongFile);

        var listing = await Assert.ThrowsAsync<BackupFailedException>(() => wrong.SnapshotsAsync([], Ct));
        var init = await Assert.ThrowsAsync<BackupFailedException>(() => wrong.InitAsync(Ct));

        foreach (var e in new[] { listing, init })
        {
            Assert.Contains($"wrong password for the repository at {restic.Location.Display}", e.Message, StringComparison.Ordinal);
            Assert.Contains(wrongFile, e.Message, StringComparison.Ordinal);
            Assert.DoesNotContain(Wrong, e.Message, StringComparison.Ordinal);
            Assert.DoesNotContain(ResticTestRepository.Password, e.Message, StringComparison.Ordinal);
        }

        Assert.DoesNotContain(restic.Logger.Messages, m => m.Contains(Wrong, StringComparison.Ordinal) || m.Contains(ResticTestRepository.Password, StringComparison.Ordinal));
        Assert.Empty(await restic.Repository.SnapshotsAsync([], Ct)); // init with the wrong password did not replace the repository
    }

    [Fact]
    public async Task SnapshotsAsync_NoRepository_SaysSoAndHowToFix()
    {
        Assert.SkipUnless(ResticTestRepository.Installed, "restic is not installed");
        using var restic = new ResticTestRepository();

        var e = await Assert.ThrowsAsync<BackupFailedException>(() => restic.Repository.SnapshotsAsync([], Ct));

        Assert.Equal($"restic snapshots: no repository at {restic.Location.Display}; check the location or create it (init)", e.Message);
    }

    [Fact]
    public async Task AnyOperation_PasswordFileReadableByOthers_RefusedBeforeResticRuns()
    {
        using var restic = new ResticTestRepository();
        File.SetUnixFileMode(restic.PasswordFile, FileModes.Mode0644);
        var runner = new Resources.NothingMayRun();
        var repository = new ResticRepository(runner, new ResticRepositoryOptions(restic.Location, restic.PasswordFile), restic.Logger);

        var e = await Assert.ThrowsAsync<BackupFailedException>(() => repository.InitAsync(Ct));

        Assert.Equal($"restic password file {restic.PasswordFile} is readable by other users; `chmod 600 {restic.PasswordFile}`", e.Message);
        Assert.Equal(0, runner.Calls);
    }

    [Fact]
    public async Task BackupAsync_TagWithComma_RejectedBeforeResticRuns()
    {
        using var restic = new ResticTestRepository();
        var runner = new Resources.NothingMayRun();
        var repository = new ResticRepository(runner, new ResticRepositoryOptions(restic.Location, restic.PasswordFile), restic.Logger);

        var e = await Assert.ThrowsAsync<ArgumentException>(() => repository.BackupAsync([restic.Temp.Path], ["tenant=a,b"], "web-01", null, Ct));

        Assert.Contains("restic tag 'tenant=a,b' must be name=value", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, runner.Calls);
    }

    [Theory]
    [InlineData("/var/backups/restic", "/var/backups/restic")]
    [InlineData("sftp:backup@vault.example.com:/srv/restic/web-01", "sftp:backup@vault.example.com:/srv/restic/web-01")]
    [InlineData("rest:https://backup:s3cr3t@vault.example.com:8000/web-01/", "rest:https://backup:***@vault.example.com:8000/web-01/")]
    [InlineData("s3:https://s3.example.com/odoo-backups/web-01", "s3:https://s3.example.com/odoo-backups/web-01")]
    [InlineData("s3:s3.amazonaws.com/odoo-backups", "s3:s3.amazonaws.com/odoo-backups")]
    public void Parse_SupportedLocation_DisplaysWithoutPassword(string value, string display)
    {
        var location = ResticLocation.Parse(value);

        Assert.Equal(value, location.Value);
        Assert.Equal(display, location.Display);
    }

    [Theory]
    [InlineData("relative/repo", "is not a repository location")]
    [InlineData("/srv/../etc", "must be an absolute path")]
    [InlineData("/srv/repo/", "must be an absolute path")]
    [InlineData("sftp:host", "is not sftp:")]
    [InlineData("rest:ftp://host/x", "is not rest:")]
    [InlineData("s3:", "is not s3:")]
    [InlineData("b2:bucket:path", "is not a repository location")]
    [InlineData("/srv/repo name", "without spaces")]
    public void Validate_BadLocation_NamesTheRule(string value, string rule)
    {
        var error = Assert.Single(ResticLocation.Validate(value));

        Assert.Contains(rule, error, StringComparison.Ordinal);
        Assert.StartsWith("backup.repository:", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_RestUrlWithPassword_ErrorRedactsIt()
    {
        var error = Assert.Single(ResticLocation.Validate("rest:ftp://user:hunter2@host/x"));

        Assert.DoesNotContain("hunter2", error, StringComparison.Ordinal);
        Assert.Contains("user:***@", error, StringComparison.Ordinal);
    }
}
