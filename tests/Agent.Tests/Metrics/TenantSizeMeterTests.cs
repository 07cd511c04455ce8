using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Metrics;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Resources;
using OdooFleet.Agent.Tests.Resources;

namespace OdooFleet.Agent.Tests.Metrics;

/// <summary>Tenant sizes from real files and a real scratch PostgreSQL cluster.</summary>
[Collection(ScratchPostgresGroup.Name)]
public sealed class TenantSizeMeterTests(ScratchPostgres postgres) : IDisposable
{
    private readonly TempDirectory root = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => root.Dispose();

    private static void Write(string path, int bytes)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, new byte[bytes]);
    }

    [Fact]
    public void FilestoreBytes_FilesLinksAndALoop_CountsOnlyRegularFilesWithoutFollowingLinks()
    {
        var filestore = root.Combine("filestore", "acme");
        Write(Path.Combine(filestore, "3f", "3f2a"), 100);
        Write(Path.Combine(filestore, "a1", "deep", "a1b2"), 250);
        Write(Path.Combine(filestore, ".hidden"), 7);
        Write(root.Combine("outside", "big"), 100_000);
        File.CreateSymbolicLink(Path.Combine(filestore, "link-to-big"), root.Combine("outside", "big"));
        Directory.CreateSymbolicLink(Path.Combine(filestore, "link-to-outside"), root.Combine("outside"));
        Directory.CreateSymbolicLink(Path.Combine(filestore, "a1", "loop"), filestore);
        File.CreateSymbolicLink(Path.Combine(filestore, "dangling"), root.Combine("nowhere"));

        Assert.Equal(357, TenantSizeMeter.FilestoreBytes(filestore));
    }

    [Fact]
    public void FilestoreBytes_MissingOrItselfALink_Zero()
    {
        Write(root.Combine("elsewhere", "file"), 4096);
        Directory.CreateSymbolicLink(root.Combine("linked"), root.Combine("elsewhere"));

        Assert.Equal(0, TenantSizeMeter.FilestoreBytes(root.Combine("missing")));
        Assert.Equal(0, TenantSizeMeter.FilestoreBytes(root.Combine("linked")));
        Assert.Equal(4096, TenantSizeMeter.FilestoreBytes(root.Combine("elsewhere")));
    }

    [Fact]
    public async Task MeasureAsync_TwoDatabasesAndOneNotCreated_SizesOfTheTwoFromPostgresAndTheirFilestores()
    {
        Assert.SkipWhen(postgres.SkipReason is not null, postgres.SkipReason ?? "");
        var (small, large, absent) = ($"oft-size-{ScratchPostgres.Unique()}", $"oft-size-{ScratchPostgres.Unique()}", $"oft-size-{ScratchPostgres.Unique()}");
        var variables = new Dictionary<string, string> { ["small"] = small, ["large"] = large };
        await postgres.Psql.ExecuteAsync("CREATE DATABASE :\"small\";\nCREATE DATABASE :\"large\";\n", variables, Ct);
        await postgres.Psql.In(large).ExecuteAsync(
            "CREATE TABLE filler AS SELECT g, repeat('x', 500) AS pad FROM generate_series(1, 20000) AS g;\n", new Dictionary<string, string>(), Ct);
        var layout = OdooLayout.Default with { DataDir = "/var/lib/odoo" };
        Write(Path.Combine(root.Path, "var/lib/odoo/filestore", large, "ab", "abcd"), 12_345);

        var sizes = await new TenantSizeMeter(ScratchPostgres.Runner, new HostPaths(root.Path), layout).MeasureAsync(
            postgres.Cluster,
            new Dictionary<string, string> { [small] = "t-small", [large] = "t-large", [absent] = "t-absent" },
            Ct);

        var expected = new Dictionary<string, long>();
        foreach (var database in new[] { small, large })
        {
            expected[database] = long.Parse(
                await postgres.ScalarAsync("SELECT pg_database_size(:'name');\n", Ct, new Dictionary<string, string> { ["name"] = database }),
                System.Globalization.CultureInfo.InvariantCulture);
        }

        Assert.Equal(2, sizes.Count);
        var smallSize = Assert.Single(sizes, s => s.Name == "t-small");
        var largeSize = Assert.Single(sizes, s => s.Name == "t-large");
        Assert.Equal((expected[small], 0L), (smallSize.DatabaseBytes, smallSize.FilestoreBytes));
        Assert.Equal((expected[large], 12_345L), (largeSize.DatabaseBytes, largeSize.FilestoreBytes));
        Assert.True(largeSize.DatabaseBytes > smallSize.DatabaseBytes + 5_000_000, $"{largeSize.DatabaseBytes} vs {smallSize.DatabaseBytes}");
    }

    [Fact]
    public async Task MeasureAsync_NameThatIsNoDatabaseName_RefusedBeforePsqlRuns()
    {
        var nothing = new NothingMayRun();
        await Assert.ThrowsAsync<ArgumentException>(() => new TenantSizeMeter(nothing, new HostPaths(root.Path), OdooLayout.Default)
            .MeasureAsync(PostgresCluster.Default, new Dictionary<string, string> { ["a,b"] = "a" }, Ct));
        Assert.Equal(0, nothing.Calls);
    }
}
