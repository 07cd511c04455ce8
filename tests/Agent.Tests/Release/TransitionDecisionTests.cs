using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Release;

namespace OdooFleet.Agent.Tests.Release;

public sealed class TransitionDecisionTests
{
    private static readonly ReleaseRef Old = new("18.0", new string('a', 40));
    private static readonly ReleaseRef New = new("18.0", new string('b', 40));

    private static TransitionRecord Record(long generation, TransitionOutcome? outcome, string phase = TransitionPhase.Health) => new()
    {
        Generation = generation,
        From = Old.DirectoryName,
        To = New.DirectoryName,
        Outcome = outcome,
        Phase = phase,
    };

    [Fact]
    public void Decide_FirstInstall_None() =>
        Assert.IsType<TransitionDecision.None>(TransitionDecision.Decide(null, 5, New, running: null));

    [Fact]
    public void Decide_ReleaseAlreadyRunning_None() =>
        Assert.IsType<TransitionDecision.None>(TransitionDecision.Decide(null, 5, New, New));

    [Fact]
    public void Decide_NoReleaseDesired_None() =>
        Assert.IsType<TransitionDecision.None>(TransitionDecision.Decide(null, 5, null, Old));

    [Fact]
    public void Decide_NewReleaseOnRunningHost_RunFromRunningToDesired()
    {
        var run = Assert.IsType<TransitionDecision.Run>(TransitionDecision.Decide(null, 5, New, Old));

        Assert.Equal((Old, New), (run.From, run.To));
    }

    [Theory]
    [InlineData("Reverted")]
    [InlineData("Failed")]
    [InlineData("Updated")]
    public void Decide_SameGenerationEnded_NeverRunAgain(string name)
    {
        var outcome = Enum.Parse<TransitionOutcome>(name);
        var ended = Assert.IsType<TransitionDecision.Ended>(TransitionDecision.Decide(Record(5, outcome), 5, New, Old));

        Assert.Equal(outcome, ended.Record.Outcome);
    }

    [Fact]
    public void Decide_EndedForAnOlderGeneration_RunsForTheNewOne() =>
        Assert.IsType<TransitionDecision.Run>(TransitionDecision.Decide(Record(4, TransitionOutcome.Reverted), 5, New, Old));

    [Fact]
    public void Decide_SameGenerationButAnotherRelease_RunsForThatRelease()
    {
        var other = new ReleaseRef("18.0", new string('c', 40));

        Assert.IsType<TransitionDecision.Run>(TransitionDecision.Decide(Record(5, TransitionOutcome.Reverted), 5, other, Old));
    }

    [Theory]
    [InlineData("", true)]
    [InlineData("Reverted", false)]
    [InlineData("Updated", false)]
    public void MustRecover_Journal_OnlyWhenUnfinished(string outcome, bool expected) =>
        Assert.Equal(expected, TransitionDecision.MustRecover(Record(5, outcome.Length == 0 ? null : Enum.Parse<TransitionOutcome>(outcome), TransitionPhase.Migrate)));

    [Fact]
    public void MustRecover_NoJournal_False() => Assert.False(TransitionDecision.MustRecover(null));

    [Fact]
    public void KeepReverted_RevertedThisGeneration_KeepsTheOldReleaseWithoutFetching()
    {
        var host = new DesiredHost("h", 5, new OdooDesired(New, "", 8069, 8072) { Artifact = new ReleaseArtifactRef("/releases/x.tar.gz", new string('0', 64), 10) });

        var kept = LocalConverger.KeepReverted(host, Record(5, TransitionOutcome.Reverted));

        Assert.Equal(Old, kept.Odoo.Release);
        Assert.True(kept.Odoo.ReleaseKept);
        Assert.Null(kept.Odoo.Artifact);
    }

    [Theory]
    [InlineData(5, "Updated")]
    [InlineData(6, "Reverted")]
    public void KeepReverted_UpdatedOrAnotherGeneration_HostUnchanged(long generation, string outcome)
    {
        var host = new DesiredHost("h", generation, new OdooDesired(New, "file:///src", 8069, 8072));

        Assert.Same(host, LocalConverger.KeepReverted(host, Record(5, Enum.Parse<TransitionOutcome>(outcome))));
    }

    [Fact]
    public async Task Journal_WriteThenLoad_RoundTripsEveryField()
    {
        using var temp = new TempDirectory();
        var journal = new TransitionJournal(temp.Combine("state", "transition.json"));
        var record = Record(7, TransitionOutcome.Reverted) with
        {
            RolloutId = "r-1",
            Reason = "health",
            Databases = [new DatabaseRecord { Name = "acme", Modules = ["web"], Dump = "/x/acme.dump", UpdateStarted = true, Restored = true }],
            StoppedAt = DateTimeOffset.UnixEpoch,
            Restarts = 2,
        };

        await journal.WriteAsync(record, TestContext.Current.CancellationToken);
        var loaded = journal.Load();

        Assert.NotNull(loaded);
        Assert.Equal(record with { Databases = [] }, loaded with { Databases = [] });
        Assert.Equal(record.Databases[0] with { Modules = [] }, loaded.Databases[0] with { Modules = [] });
        Assert.Equal(["web"], loaded.Databases[0].Modules);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(journal.Path));
    }

    [Theory]
    [InlineData("db_password = s3cret", "s3cret")]
    [InlineData("Connection to the database failed: host=x password=hunter2 dbname=y", "hunter2")]
    [InlineData("admin_passwd: 'pbkdf2$abc'", "pbkdf2$abc")]
    public void LogTailRedact_SecretInLine_Blanked(string line, string secret)
    {
        var redacted = LogTail.Redact($"2026-01-01 00:00:00,000 1 INFO ? odoo: start\n{line}\n");

        Assert.DoesNotContain(secret, redacted, StringComparison.Ordinal);
        Assert.Contains("<redacted>", redacted, StringComparison.Ordinal);
        Assert.Contains("odoo: start", redacted, StringComparison.Ordinal);
    }
}
