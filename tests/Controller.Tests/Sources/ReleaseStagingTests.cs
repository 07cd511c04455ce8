using System.Net;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Hosting;
using OdooFleet.Controller.Persistence;
using OdooFleet.Controller.Sources;
using OdooFleet.Controller.Tests.Api;
using OdooFleet.Controller.Tests.Persistence;
using OdooFleet.Controller.Tests.Rollouts;
using Xunit;

namespace OdooFleet.Controller.Tests.Sources;

/// <summary>Release resolution, the one-time build and the download, against the fixture source repository.</summary>
public sealed class ReleaseStagingTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>, IAsyncLifetime
{
    private FixtureSource? source;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private FixtureSource Source => source!;

    public async ValueTask InitializeAsync() => source = await FixtureSource.CreateAsync();

    public ValueTask DisposeAsync()
    {
        source?.Dispose();
        return ValueTask.CompletedTask;
    }

    private IOptions<FleetOptions> Options(string? dataDirectory = null) =>
        Microsoft.Extensions.Options.Options.Create(new FleetOptions { SourceUrl = Source.Repository, DataDirectory = dataDirectory ?? Source.NewDataDirectory() });

    private ReleaseBuilder Builder(IOptions<FleetOptions> options) =>
        new(new ReleaseStore(fixture.Database.DataSource), options, TimeProvider.System, NullLogger<ReleaseBuilder>.Instance);

    [Fact]
    public async Task EnsureAsync_ConcurrentCallsThenFileLost_BuiltOnceAndRebuiltToTheRecordedSha()
    {
        var commit = await Source.CommitAsync("18.0");
        var release = new OdooRelease("18.0", commit);
        var options = Options();
        using var builder = Builder(options);
        using var otherController = Builder(Options());

        var built = await Task.WhenAll(Enumerable.Range(0, 4).Select(i => (i % 2 == 0 ? builder : otherController).EnsureAsync(release, Ct)));

        Assert.Single(built.Distinct());
        var artifact = built[0];
        Assert.Equal($"/releases/18.0-{commit}.tar.gz", artifact.Path);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(builder.PathOf(release), Ct))), artifact.Sha256);
        await using (var count = fixture.Database.DataSource.CreateCommand($"SELECT count(*) FROM releases WHERE commit = '{commit}'"))
        {
            Assert.Equal(1L, await count.ExecuteScalarAsync(Ct));
        }

        // No half-written or temporary file is left next to the artifact.
        Assert.Equal([Path.GetFileName(builder.PathOf(release))], Directory.GetFiles(builder.ReleaseDirectory).Select(Path.GetFileName).Where(f => !f!.EndsWith(".lock", StringComparison.Ordinal)));
        var entries = await TarEntriesAsync(builder.PathOf(release));
        Assert.Contains("odoo-bin", entries);
        Assert.Contains("addons/web/__manifest__.py", entries);
        Assert.DoesNotContain(entries, e => e.StartsWith("wheelhouse", StringComparison.Ordinal));

        File.Delete(builder.PathOf(release));
        var rebuilt = await builder.EnsureAsync(release, Ct);

        Assert.Equal(artifact, rebuilt);
        Assert.True(File.Exists(builder.PathOf(release)));
    }

    [Fact]
    public async Task EnsureAsync_RebuildDiffersFromRecord_RefusedAndNothingServed()
    {
        var commit = await Source.CommitAsync("18.0");
        var release = new OdooRelease("18.0", commit);
        await new ReleaseStore(fixture.Database.DataSource).RecordAsync(release, new string('0', 64), 1, DateTimeOffset.UtcNow, Ct);
        using var builder = Builder(Options());

        var refused = await Assert.ThrowsAsync<ReleaseBuildException>(() => builder.EnsureAsync(release, Ct));

        Assert.Contains("was recorded when it was first built", refused.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(builder.PathOf(release)));
    }

    [Fact]
    public async Task ResolveAsync_Revisions_OnBranchResolvedElseRefusedWithTheRule()
    {
        var older = await Source.CommitAsync("18.0");
        var head = await Source.CommitAsync("18.0");
        var only17 = await Source.CommitAsync("17.0");
        await Source.CommitAsync("17.0");
        using var resolver = new ReleaseResolver(Options());

        Assert.Equal(head, (await resolver.ResolveAsync("18.0", "", Ct)).Commit);
        Assert.Equal(head, (await resolver.ResolveAsync("18.0", head[..7], Ct)).Commit);
        Assert.Equal(older, (await resolver.ResolveAsync("18.0", older[..10].ToUpperInvariant(), Ct)).Commit);
        Assert.Equal(older, (await resolver.ResolveAsync("18.0", older, Ct)).Commit);

        // Once 17.0's history is in the cache, its commit is known there but still not on 18.0.
        var offBranchUnknown = await Assert.ThrowsAsync<ReleaseResolutionException>(() => resolver.ResolveAsync("18.0", only17, Ct));
        Assert.Contains("is not a commit of the 18.0 branch", offBranchUnknown.Message, StringComparison.Ordinal);
        Assert.Equal(only17, (await resolver.ResolveAsync("17.0", only17, Ct)).Commit);
        var offBranch = await Assert.ThrowsAsync<ReleaseResolutionException>(() => resolver.ResolveAsync("18.0", only17, Ct));
        Assert.Contains("is not on the 18.0 branch", offBranch.Message, StringComparison.Ordinal);
        Assert.False(offBranch.SourceUnreachable);
        var malformed = await Assert.ThrowsAsync<ReleaseResolutionException>(() => resolver.ResolveAsync("18.0", "abc", Ct));
        Assert.StartsWith("revision: 'abc' must be a commit of 7 to 40 hex digits", malformed.Message, StringComparison.Ordinal);
        var unknown = await Assert.ThrowsAsync<ReleaseResolutionException>(() => resolver.ResolveAsync("18.0", "1234567", Ct));
        Assert.StartsWith("revision: '1234567' is not a commit of the 18.0 branch", unknown.Message, StringComparison.Ordinal);
        var noSeries = await Assert.ThrowsAsync<ReleaseResolutionException>(() => resolver.ResolveAsync("16.0", "", Ct));
        Assert.Contains("available series: 17.0, 18.0", noSeries.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetRelease_AgentEndpoint_OnlyAuthenticatedHostsGetTheRecordedBytes()
    {
        await using var vhost = await ScratchVhost.CreateAsync(Ct);
        var cluster = new ClusterIdentity("test-" + Guid.NewGuid().ToString("N")[..12], "svc-" + Guid.NewGuid().ToString("N")[..12]);
        await using var node = await ControllerNode.StartAsync(fixture.Database, cluster, vhost.Broker, Source.Repository, Source.NewDataDirectory());
        var (_, certificate) = await node.EnrollAsync("rel-" + Guid.NewGuid().ToString("N")[..8]);
        var commit = await Source.CommitAsync("18.0");
        var release = new OdooRelease("18.0", commit);
        var artifact = await node.Get<ReleaseBuilder>().EnsureAsync(release, Ct);

        using (var anonymous = node.AgentHttp(null))
        {
            var refused = await anonymous.GetAsync(artifact.Path, Ct);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.Contains("client certificate missing", await refused.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        }

        using var agent = node.AgentHttp(certificate);
        var served = await agent.GetAsync(artifact.Path, Ct);
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        var bytes = await served.Content.ReadAsByteArrayAsync(Ct);
        Assert.Equal(artifact.Sha256, Convert.ToHexStringLower(SHA256.HashData(bytes)));
        Assert.Equal(artifact.SizeBytes, bytes.Length);

        // Never built here (not staged by a rollout): not fetched on demand for anyone.
        var unknown = await agent.GetAsync($"/releases/18.0-{new string('e', 40)}.tar.gz", Ct);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        var traversal = await agent.GetAsync("/releases/..%2F..%2Fetc%2Fpasswd", Ct);
        Assert.Equal(HttpStatusCode.NotFound, traversal.StatusCode);
        await using var audit = fixture.Database.DataSource.CreateCommand(
            "SELECT count(*) FROM audit_log WHERE action = 'GET /releases' AND result = 'denied: no client certificate'");
        Assert.True((long)(await audit.ExecuteScalarAsync(Ct))! >= 1);
    }

    private static async Task<List<string>> TarEntriesAsync(string path)
    {
        await using var file = File.OpenRead(path);
        await using var gzip = new System.IO.Compression.GZipStream(file, System.IO.Compression.CompressionMode.Decompress);
        await using var tar = new System.Formats.Tar.TarReader(gzip);
        var names = new List<string>();
        while (await tar.GetNextEntryAsync(cancellationToken: Ct) is { } entry)
        {
            names.Add(entry.Name);
        }

        return names;
    }
}
