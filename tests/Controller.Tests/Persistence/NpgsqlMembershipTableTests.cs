using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OdooFleet.Controller.Persistence;
using Orleans.Configuration;
using Xunit;

namespace OdooFleet.Controller.Tests.Persistence;

public sealed class NpgsqlMembershipTableTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private static readonly DateTime T0 = new(2025, 3, 1, 12, 0, 0, DateTimeKind.Utc);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ReadAllAsync_FreshCluster_EmptyAtVersionZero()
    {
        var table = await NewTableAsync();

        var data = await table.ReadAllAsync(Ct);

        Assert.Empty(data.Members);
        Assert.Equal(0, data.Version.Version);
    }

    [Fact]
    public async Task InsertRowAsync_StaleTableVersion_ReturnsFalse()
    {
        var table = await NewTableAsync();
        var v0 = (await table.ReadAllAsync(Ct)).Version;

        Assert.True(await table.InsertRowAsync(Entry(1), v0.Next(), Ct));
        Assert.False(await table.InsertRowAsync(Entry(2), v0.Next(), Ct));

        var data = await table.ReadAllAsync(Ct);
        Assert.Single(data.Members);
        Assert.Equal(1, data.Version.Version);
    }

    [Fact]
    public async Task InsertRowAsync_SiloAlreadyPresent_ReturnsFalseAndKeepsVersion()
    {
        var table = await NewTableAsync();
        Assert.True(await table.InsertRowAsync(Entry(1), (await table.ReadAllAsync(Ct)).Version.Next(), Ct));
        var before = (await table.ReadAllAsync(Ct)).Version;

        Assert.False(await table.InsertRowAsync(Entry(1), before.Next(), Ct));

        Assert.Equal(before, (await table.ReadAllAsync(Ct)).Version);
    }

    [Fact]
    public async Task InsertRowAsync_ConcurrentWritersOfOneVersion_ExactlyOneWins()
    {
        var table = await NewTableAsync();
        var v0 = (await table.ReadAllAsync(Ct)).Version;

        var results = await Task.WhenAll(Enumerable.Range(1, 8).Select(
            i => Task.Run(() => table.InsertRowAsync(Entry(i), v0.Next(), Ct), Ct)));

        Assert.Single(results, won => won);
        Assert.Single((await table.ReadAllAsync(Ct)).Members);
    }

    [Fact]
    public async Task ReadRowAsync_InsertedEntry_RoundTripsEveryField()
    {
        var table = await NewTableAsync();
        var suspector = SiloAddress.New(IPAddress.Loopback, 30099, 7);
        var entry = Entry(3, SiloStatus.Joining);
        entry.SuspectTimes = [Tuple.Create(suspector, T0.AddSeconds(5))];
        entry.UpdateZone = 4;
        entry.FaultZone = 5;
        await table.InsertRowAsync(entry, (await table.ReadAllAsync(Ct)).Version.Next(), Ct);
        await table.InsertRowAsync(Entry(4), (await table.ReadAllAsync(Ct)).Version.Next(), Ct);

        var data = await table.ReadRowAsync(entry.SiloAddress, Ct);

        var (read, _) = Assert.Single(data.Members);
        Assert.Equal(2, data.Version.Version);
        Assert.Equal(entry.SiloAddress, read.SiloAddress);
        Assert.Equal(SiloStatus.Joining, read.Status);
        Assert.Equal(entry.SiloName, read.SiloName);
        Assert.Equal(entry.HostName, read.HostName);
        Assert.Equal(entry.RoleName, read.RoleName);
        Assert.Equal(entry.ProxyPort, read.ProxyPort);
        Assert.Equal(4, read.UpdateZone);
        Assert.Equal(5, read.FaultZone);
        Assert.Equal(entry.StartTime, read.StartTime);
        Assert.Equal(entry.IAmAliveTime, read.IAmAliveTime);
        var (silo, at) = Assert.Single(read.SuspectTimes!);
        Assert.Equal(suspector, silo);
        Assert.Equal(T0.AddSeconds(5), at);
    }

    [Fact]
    public async Task UpdateRowAsync_StaleRowEtagOrTableVersion_ReturnsFalse()
    {
        var table = await NewTableAsync();
        var entry = Entry(1, SiloStatus.Joining);
        await table.InsertRowAsync(entry, (await table.ReadAllAsync(Ct)).Version.Next(), Ct);
        var read = await table.ReadAllAsync(Ct);
        var etag = read.Members[0].Item2;
        entry.Status = SiloStatus.Active;

        Assert.True(await table.UpdateRowAsync(entry, etag, read.Version.Next(), Ct));

        var afterUpdate = await table.ReadAllAsync(Ct);
        entry.Status = SiloStatus.Dead;
        Assert.False(await table.UpdateRowAsync(entry, etag, afterUpdate.Version.Next(), Ct));
        Assert.False(await table.UpdateRowAsync(entry, afterUpdate.Members[0].Item2, read.Version.Next(), Ct));
        var final = await table.ReadAllAsync(Ct);
        Assert.Equal(SiloStatus.Active, final.Members[0].Item1.Status);
        Assert.Equal(afterUpdate.Version, final.Version);
    }

    [Fact]
    public async Task UpdateRowAsync_MissingSilo_ReturnsFalseAndKeepsVersion()
    {
        var table = await NewTableAsync();
        var read = await table.ReadAllAsync(Ct);

        Assert.False(await table.UpdateRowAsync(Entry(9), "0", read.Version.Next(), Ct));

        Assert.Equal(read.Version, (await table.ReadAllAsync(Ct)).Version);
    }

    [Fact]
    public async Task UpdateIAmAliveAsync_Heartbeat_ChangesTimeButNeitherEtag()
    {
        var table = await NewTableAsync();
        var entry = Entry(1);
        await table.InsertRowAsync(entry, (await table.ReadAllAsync(Ct)).Version.Next(), Ct);
        var before = await table.ReadAllAsync(Ct);

        entry.IAmAliveTime = T0.AddMinutes(3);
        await table.UpdateIAmAliveAsync(entry, Ct);

        var after = await table.ReadAllAsync(Ct);
        Assert.Equal(T0.AddMinutes(3), after.Members[0].Item1.IAmAliveTime);
        Assert.Equal(before.Version, after.Version);
        Assert.Equal(before.Members[0].Item2, after.Members[0].Item2);
        // Inputs read before the heartbeat stay usable, as the membership protocol expects.
        entry.Status = SiloStatus.ShuttingDown;
        Assert.True(await table.UpdateRowAsync(entry, before.Members[0].Item2, before.Version.Next(), Ct));
    }

    [Fact]
    public async Task CleanupDefunctSiloEntriesAsync_OldDeadSilo_RemovedOthersKept()
    {
        var table = await NewTableAsync();
        var oldDead = Entry(1, SiloStatus.Dead, aliveAt: T0.AddDays(-2));
        var recentlyDeclaredDead = Entry(2, SiloStatus.Dead, aliveAt: T0.AddDays(-2));
        recentlyDeclaredDead.SuspectTimes = [Tuple.Create(oldDead.SiloAddress, T0)];
        var oldActive = Entry(3, SiloStatus.Active, aliveAt: T0.AddDays(-2));
        var recentDead = Entry(4, SiloStatus.Dead, aliveAt: T0);
        foreach (var entry in new[] { oldDead, recentlyDeclaredDead, oldActive, recentDead })
        {
            Assert.True(await table.InsertRowAsync(entry, (await table.ReadAllAsync(Ct)).Version.Next(), Ct));
        }

        await table.CleanupDefunctSiloEntriesAsync(new DateTimeOffset(T0.AddDays(-1)), Ct);

        var left = (await table.ReadAllAsync(Ct)).Members.Select(m => m.Item1.SiloAddress).ToHashSet();
        Assert.Equal(new[] { recentlyDeclaredDead, oldActive, recentDead }.Select(e => e.SiloAddress).ToHashSet(), left);
    }

    [Fact]
    public async Task DeleteMembershipTableEntriesAsync_OneCluster_LeavesOtherClusters()
    {
        var doomedId = "doomed-" + Guid.NewGuid().ToString("N");
        var doomed = await NewTableAsync(doomedId);
        var kept = await NewTableAsync();
        await doomed.InsertRowAsync(Entry(1), (await doomed.ReadAllAsync(Ct)).Version.Next(), Ct);
        await kept.InsertRowAsync(Entry(1), (await kept.ReadAllAsync(Ct)).Version.Next(), Ct);

        await doomed.DeleteMembershipTableEntriesAsync(doomedId, Ct);

        Assert.Empty((await doomed.ReadAllAsync(Ct)).Members);
        Assert.Single((await kept.ReadAllAsync(Ct)).Members);
    }

    private async Task<NpgsqlMembershipTable> NewTableAsync(string? clusterId = null)
    {
        var table = new NpgsqlMembershipTable(
            fixture.Database.DataSource,
            Options.Create(new ClusterOptions { ClusterId = clusterId ?? "cluster-" + Guid.NewGuid().ToString("N"), ServiceId = "svc" }),
            NullLogger<NpgsqlMembershipTable>.Instance);
        await table.InitializeMembershipTableAsync(tryInitTableVersion: true, Ct);
        return table;
    }

    private static MembershipEntry Entry(int n, SiloStatus status = SiloStatus.Active, DateTime? aliveAt = null) => new()
    {
        SiloAddress = SiloAddress.New(IPAddress.Loopback, 30000 + n, 1),
        Status = status,
        SiloName = $"silo-{n}",
        HostName = "controller-1",
        RoleName = "odoofleet-controller",
        ProxyPort = 31000 + n,
        StartTime = T0.AddHours(-1),
        IAmAliveTime = aliveAt ?? T0,
        SuspectTimes = [],
    };
}
