using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using OdooFleet.Agent.Drift;

namespace OdooFleet.Agent.Tests.Drift;

public sealed class DriftJournalTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);

    private readonly TempDirectory dir = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string PathName => dir.Combine("drift.json");

    public void Dispose() => dir.Dispose();

    private DriftJournal Open(int capacity = DriftJournal.DefaultCapacity) =>
        DriftJournal.Open(PathName, capacity, new FakeTimeProvider(Now), NullLogger.Instance);

    internal static DriftEvent Event(string id, DriftAction action = DriftAction.Corrected) => new()
    {
        Id = id,
        ResourceId = "file:/etc/odoo.conf",
        Kind = "file",
        Generation = 4,
        Expected = "as rendered for generation 4",
        Actual = "update /etc/odoo.conf: content",
        Diff = "--- /etc/odoo.conf\n+++ /etc/odoo.conf\n-workers = 9\n+workers = 5\n",
        Trigger = "file",
        DetectedAt = Now,
        Action = action,
        CorrectedAt = action == DriftAction.Corrected ? Now.AddMilliseconds(40) : null,
    };

    [Fact]
    public async Task AddAsync_ThenReopen_EventsSurviveWithEveryField()
    {
        using (var journal = Open())
        {
            await journal.AddAsync([Event("d-1"), Event("d-2", DriftAction.Reported) with { Error = null, Recurred = true, Accept = [new DriftPatch("odoo.workers", "9")] }], Ct);
        }

        using var reopened = Open();

        // Equivalent, not Equal: the accept list comes back as a new list (records compare lists by reference).
        Assert.Equivalent(
            new[] { Event("d-1"), Event("d-2", DriftAction.Reported) with { Recurred = true, Accept = [new DriftPatch("odoo.workers", "9")] } },
            reopened.Unacknowledged(10),
            strict: true);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(PathName));
        Assert.Equal([PathName], Directory.GetFiles(dir.Path));
    }

    [Fact]
    public async Task AcknowledgeAsync_ThenReopen_OnlyUnacknowledgedAreOwed()
    {
        using (var journal = Open())
        {
            await journal.AddAsync([Event("d-1"), Event("d-2"), Event("d-3")], Ct);
            await journal.AcknowledgeAsync(["d-2", "d-unknown"], Ct);
        }

        using var reopened = Open();

        Assert.Equal(["d-1", "d-3"], reopened.Unacknowledged(10).Select(e => e.Id));
        Assert.Equal(["d-1"], reopened.Unacknowledged(1).Select(e => e.Id));
        Assert.Equal(3, reopened.Current.Entries.Count);
    }

    [Fact]
    public async Task AddAsync_Full_OldestAcknowledgedDroppedFirst()
    {
        using var journal = Open(capacity: 4);
        await journal.AddAsync([Event("d-1"), Event("d-2"), Event("d-3"), Event("d-4")], Ct);
        await journal.AcknowledgeAsync(["d-2", "d-3"], Ct);

        await journal.AddAsync([Event("d-5")], Ct);

        Assert.Equal(["d-1", "d-3", "d-4", "d-5"], journal.Current.Entries.Select(e => e.Event.Id));
        Assert.Equal(0, journal.Current.Overflowed);
    }

    [Fact]
    public async Task AddAsync_FullOfUnacknowledged_OldestDroppedAndCountedAcrossReopen()
    {
        using (var journal = Open(capacity: 3))
        {
            await journal.AddAsync([Event("d-1"), Event("d-2"), Event("d-3")], Ct);
            await journal.AcknowledgeAsync(["d-3"], Ct);

            await journal.AddAsync([Event("d-4"), Event("d-5")], Ct);

            Assert.Equal(["d-2", "d-4", "d-5"], journal.Current.Entries.Select(e => e.Event.Id));
            Assert.Equal(1, journal.Current.Overflowed);
        }

        using var reopened = Open(capacity: 3);
        await reopened.AddAsync([Event("d-6")], Ct);

        Assert.Equal(["d-4", "d-5", "d-6"], reopened.Unacknowledged(10).Select(e => e.Id));
        Assert.Equal(2, reopened.Current.Overflowed);
    }

    [Fact]
    public async Task OpenAsync_CorruptFile_MovedAsideAndStartsEmpty()
    {
        await File.WriteAllTextAsync(PathName, "{not json", Ct);

        using var journal = Open();

        Assert.Empty(journal.Current.Entries);
        Assert.True(File.Exists($"{PathName}.corrupt-20261123T120000Z"));
    }

    [Fact]
    public async Task AddAsync_SomeoneWaits_NextAdditionCompletes()
    {
        using var journal = Open();
        var next = journal.NextAddition;
        Assert.False(next.IsCompleted);

        await journal.AddAsync([Event("d-1")], Ct);

        await next.WaitAsync(TimeSpan.FromSeconds(5), Ct);
        Assert.False(journal.NextAddition.IsCompleted);
    }

    [Fact]
    public void Bound_HugeDiff_CutAndSaysHowMuch()
    {
        var huge = new string('x', DriftEvent.MaxDiffChars + 7);

        var bounded = DriftEvent.Bound(huge);

        Assert.StartsWith(new string('x', DriftEvent.MaxDiffChars), bounded, StringComparison.Ordinal);
        Assert.EndsWith("(7 more characters not kept)\n", bounded, StringComparison.Ordinal);
        Assert.Equal("short", DriftEvent.Bound("short"));
        Assert.Equal("", DriftEvent.Bound(null));
    }
}
