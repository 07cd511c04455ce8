using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Persistence;
using Xunit;

namespace OdooFleet.Controller.Tests.Persistence;

public sealed class HeartbeatWriterTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private static readonly DateTimeOffset Now = new(2026, 12, 5, 12, 0, 0, TimeSpan.Zero);
    private readonly EnrollmentStore enrollment = new(fixture.Database.DataSource);
    private readonly HostStore hosts = new(fixture.Database.DataSource);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task RecordHeartbeatsAsync_DuplicatesAndRemovedHost_LaterHeartbeatWinsRemovedMissing()
    {
        var ids = await EnrollAsync(2);
        var gone = Identifiers.New("h");
        var metrics = new HostMetrics(5, 8L << 30, 4L << 30, 100L << 30, 90L << 30, 0.1, 0.2, 0.3);

        var generations = await hosts.RecordHeartbeatsAsync(
            [
                new HeartbeatRecord(ids[0], Now, metrics, null, "10.0.0.7"),
                new HeartbeatRecord(ids[1], Now, null, null, null),
                new HeartbeatRecord(gone, Now, null, null, null),
                new HeartbeatRecord(ids[0], Now.AddSeconds(30), null, null, null),
            ],
            Ct);

        Assert.Equal(ids.Order(StringComparer.Ordinal), generations.Keys.Order(StringComparer.Ordinal));
        Assert.All(generations.Values, g => Assert.Equal(1, g));
        var first = (await hosts.FindAsync(ids[0], Ct))!;
        // The later heartbeat of the same host wins; it carried no metrics or address, so the stored ones stay as they were.
        Assert.Equal(Now.AddSeconds(30), first.LastSeen);
        Assert.Equal("10.0.0.1", first.Address);
        Assert.Null(first.Metrics);
        Assert.Equal(Now, (await hosts.FindAsync(ids[1], Ct))!.LastSeen);

        await hosts.RecordHeartbeatsAsync([new HeartbeatRecord(ids[1], Now.AddSeconds(60), metrics, null, "10.0.0.9")], Ct);
        var second = (await hosts.FindAsync(ids[1], Ct))!;
        Assert.Equal("10.0.0.9", second.Address);
        Assert.Equal(metrics, second.Metrics);
    }

    [Fact]
    public async Task RecordAsync_WhileAWriteIsBlocked_LaterHeartbeatsShareOneWrite()
    {
        var ids = await EnrollAsync(41);
        await using var writer = new HeartbeatWriter(hosts, NullLogger<HeartbeatWriter>.Instance);

        // Hold the first host's row so the writer's first statement waits on it.
        await using var blocker = await fixture.Database.DataSource.OpenConnectionAsync(Ct);
        await using var tx = await blocker.BeginTransactionAsync(Ct);
        await using (var hold = new NpgsqlCommand("SELECT 1 FROM hosts WHERE id = $1 FOR UPDATE", blocker, tx))
        {
            hold.Parameters.AddWithValue(ids[0]);
            await hold.ExecuteNonQueryAsync(Ct);
        }

        var firstBeat = writer.RecordAsync(new HeartbeatRecord(ids[0], Now, null, null, null), Ct);
        await WaitUntilAsync(() => writer.Queued == 0, "the first heartbeat to be taken into a write");
        var rest = ids.Skip(1).Select(id => writer.RecordAsync(new HeartbeatRecord(id, Now, null, null, null), Ct)).ToList();
        await WaitUntilAsync(() => writer.Queued == rest.Count, "the other heartbeats to queue up behind it");
        Assert.False(firstBeat.IsCompleted);
        await tx.RollbackAsync(Ct);

        var answers = await Task.WhenAll(rest.Prepend(firstBeat)).WaitAsync(TimeSpan.FromSeconds(30), Ct);

        Assert.All(answers, g => Assert.Equal(1, g));
        Assert.Equal(2, writer.Writes);
        foreach (var id in ids)
        {
            Assert.Equal(Now, (await hosts.FindAsync(id, Ct))!.LastSeen);
        }
    }

    [Fact]
    public async Task RecordAsync_RemovedHost_NullLikeASingleWrite()
    {
        await using var writer = new HeartbeatWriter(hosts, NullLogger<HeartbeatWriter>.Instance);

        Assert.Null(await writer.RecordAsync(new HeartbeatRecord(Identifiers.New("h"), Now, null, null, null), Ct));
    }

    [Fact]
    public async Task RecordAsync_AfterDispose_RefusedNotLost()
    {
        var writer = new HeartbeatWriter(hosts, NullLogger<HeartbeatWriter>.Instance);
        await writer.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => writer.RecordAsync(new HeartbeatRecord(Identifiers.New("h"), Now, null, null, null), Ct));
    }

    private async Task<List<string>> EnrollAsync(int count)
    {
        var ids = new List<string>();
        for (var i = 0; i < count; i++)
        {
            var hash = Identifiers.Hash(Identifiers.NewSecret("oft"));
            await enrollment.CreateTokenAsync(Identifiers.New("t"), hash, Now, Now.AddHours(1), Ct);
            var host = new HostRecord(Identifiers.New("h"), $"hb{Guid.NewGuid():N}"[..20], "10.0.0.1", Now, null, null, null, 0, null, 0, 0, null, false, "", "q");
            Assert.Equal(TokenRedemption.Redeemed, await enrollment.EnrollAsync(hash, host, null, Now, "{}", _ => Task.CompletedTask, Ct));
            ids.Add(host.Id);
        }

        return ids;
    }

    /// <summary>Waits on a condition with a deadline; the writer runs on its own, so there is nothing to await directly.</summary>
    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"gave up after 30 s waiting for {what}");
            }

            await Task.Delay(10, Ct);
        }
    }
}
