using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OdooFleet.Controller.Persistence;
using Orleans.Configuration;
using Xunit;

namespace OdooFleet.Controller.Tests.Persistence;

public sealed class NpgsqlReminderTableTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private static readonly DateTime T0 = new(2025, 3, 1, 12, 0, 0, DateTimeKind.Utc);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ReadRows_RangeBeginBelowEnd_ReturnsHashesAboveBeginUpToEnd()
    {
        var (table, grains) = await TableWithGrainsAsync(12);
        var hashes = grains.Select(g => g.GetUniformHashCode()).Order().ToList();

        foreach (var (begin, end) in new[] { (hashes[2], hashes[7]), (0u, hashes[5]), (hashes[9], uint.MaxValue), (0u, uint.MaxValue) })
        {
            var rows = await table.ReadRows(begin, end, Ct);

            Assert.Equal(Expected(grains, begin, end), Hashes(rows));
        }
    }

    [Fact]
    public async Task ReadRows_BeginAtOrAboveEnd_WrapsAroundTheRing()
    {
        var (table, grains) = await TableWithGrainsAsync(12);
        var hashes = grains.Select(g => g.GetUniformHashCode()).Order().ToList();

        foreach (var (begin, end) in new[] { (hashes[8], hashes[3]), (hashes[4], hashes[4]), (uint.MaxValue, 0u), (uint.MaxValue, hashes[1]) })
        {
            var rows = await table.ReadRows(begin, end, Ct);

            Assert.Equal(Expected(grains, begin, end), Hashes(rows));
        }

        // begin == end is the whole ring.
        Assert.Equal(grains.Count, (await table.ReadRows(hashes[4], hashes[4], Ct)).Reminders.Count);
    }

    [Fact]
    public async Task UpsertRow_ExistingReminder_ReplacesItWithNewEtag()
    {
        var table = NewTable();
        var grain = GrainId.Create("probe", "upsert");
        var first = await table.UpsertRow(Reminder(grain, "tick", TimeSpan.FromMinutes(1)), Ct);

        var second = await table.UpsertRow(Reminder(grain, "tick", TimeSpan.FromMinutes(5), T0.AddHours(1)), Ct);

        Assert.NotEqual(first, second);
        var row = await table.ReadRow(grain, "tick", Ct);
        Assert.NotNull(row);
        Assert.Equal(grain, row.GrainId);
        Assert.Equal(TimeSpan.FromMinutes(5), row.Period);
        Assert.Equal(T0.AddHours(1), row.StartAt);
        Assert.Equal(DateTimeKind.Utc, row.StartAt.Kind);
        Assert.Equal(second, row.ETag);
    }

    [Fact]
    public async Task RemoveRow_StaleEtag_ReturnsFalseAndKeepsRow()
    {
        var table = NewTable();
        var grain = GrainId.Create("probe", "remove-stale");
        var stale = await table.UpsertRow(Reminder(grain, "tick"), Ct);
        var current = await table.UpsertRow(Reminder(grain, "tick"), Ct);

        Assert.False(await table.RemoveRow(grain, "tick", stale!, Ct));
        Assert.False(await table.RemoveRow(grain, "tick", "not-an-etag", Ct));
        Assert.NotNull(await table.ReadRow(grain, "tick", Ct));

        Assert.True(await table.RemoveRow(grain, "tick", current!, Ct));
        Assert.Null(await table.ReadRow(grain, "tick", Ct));
        Assert.False(await table.RemoveRow(grain, "tick", current!, Ct));
    }

    [Fact]
    public async Task ReadRows_ByGrain_ReturnsOnlyThatGrainsReminders()
    {
        var table = NewTable();
        var grain = GrainId.Create("probe", "by-grain");
        var other = GrainId.Create("probe", "by-grain-other");
        await table.UpsertRow(Reminder(grain, "a"), Ct);
        await table.UpsertRow(Reminder(grain, "b"), Ct);
        await table.UpsertRow(Reminder(other, "a"), Ct);

        var rows = await table.ReadRows(grain, Ct);

        Assert.Equal(["a", "b"], rows.Reminders.Select(r => r.ReminderName).Order());
        Assert.All(rows.Reminders, r => Assert.Equal(grain, r.GrainId));
    }

    [Fact]
    public async Task TestOnlyClearTable_OneService_LeavesOtherServices()
    {
        var cleared = NewTable();
        var kept = NewTable();
        var grain = GrainId.Create("probe", "clear");
        await cleared.UpsertRow(Reminder(grain, "tick"), Ct);
        await kept.UpsertRow(Reminder(grain, "tick"), Ct);

        await cleared.TestOnlyClearTable(Ct);

        Assert.Null(await cleared.ReadRow(grain, "tick", Ct));
        Assert.NotNull(await kept.ReadRow(grain, "tick", Ct));
    }

    private async Task<(NpgsqlReminderTable Table, List<GrainId> Grains)> TableWithGrainsAsync(int count)
    {
        var table = NewTable();
        var grains = Enumerable.Range(0, count).Select(i => GrainId.Create("probe", $"ring-{i}")).ToList();
        foreach (var grain in grains)
        {
            await table.UpsertRow(Reminder(grain, "tick"), Ct);
        }

        return (table, grains);
    }

    /// <summary>The ring semantics stated by IReminderTable: (begin, end], wrapping when begin >= end.</summary>
    private static List<uint> Expected(IEnumerable<GrainId> grains, uint begin, uint end) =>
        grains.Select(g => g.GetUniformHashCode())
            .Where(h => begin < end ? h > begin && h <= end : h > begin || h <= end)
            .Order()
            .ToList();

    private static List<uint> Hashes(ReminderTableData rows) =>
        rows.Reminders.Select(r => r.GrainId.GetUniformHashCode()).Order().ToList();

    private NpgsqlReminderTable NewTable() => new(
        fixture.Database.DataSource,
        Options.Create(new ClusterOptions { ClusterId = "c", ServiceId = "svc-" + Guid.NewGuid().ToString("N") }),
        NullLogger<NpgsqlReminderTable>.Instance);

    private static ReminderEntry Reminder(GrainId grain, string name, TimeSpan? period = null, DateTime? startAt = null) => new()
    {
        GrainId = grain,
        ReminderName = name,
        Period = period ?? TimeSpan.FromMinutes(1),
        StartAt = startAt ?? T0,
    };
}
