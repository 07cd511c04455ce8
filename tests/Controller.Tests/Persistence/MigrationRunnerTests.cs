using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using OdooFleet.Controller.Persistence;
using Xunit;

namespace OdooFleet.Controller.Tests.Persistence;

public sealed class MigrationRunnerTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void Embedded_ControllerAssembly_StartsWithOrleansSchemaInVersionOrder()
    {
        var migrations = Migration.Embedded();

        Assert.Equal("0001_orleans.sql", migrations[0].FileName);
        Assert.Equal(migrations.OrderBy(m => m.Version).Select(m => m.Version), migrations.Select(m => m.Version));
    }

    [Theory]
    [InlineData("1_orleans.sql")]
    [InlineData("0001-orleans.sql")]
    [InlineData("0001_Orleans.sql")]
    [InlineData("0001_orleans.txt")]
    public void Create_MisnamedFile_ThrowsNamingTheFile(string fileName)
    {
        var error = Assert.Throws<InvalidOperationException>(() => Migration.Create(fileName, "SELECT 1"));

        Assert.Contains(fileName, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Ordered_TwoScriptsWithOneVersion_Throws()
    {
        var error = Assert.Throws<InvalidOperationException>(() => Migration.Ordered(
            [Migration.Create("0001_a.sql", "SELECT 1"), Migration.Create("0001_b.sql", "SELECT 1")]));

        Assert.Contains("0001_b.sql", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MigrateAsync_RunTwice_AppliesEachScriptOnce()
    {
        await using var db = await TestDatabase.CreateAsync(migrate: false);

        await MigrationRunner.MigrateAsync(db.DataSource, NullLogger.Instance, Ct);
        await MigrationRunner.MigrateAsync(db.DataSource, NullLogger.Instance, Ct);

        var embedded = Migration.Embedded();
        Assert.Equal(embedded.Select(m => m.Version), await AppliedVersionsAsync(db.DataSource));
        Assert.True(await TableExistsAsync(db.DataSource, "orleans_membership"));
        Assert.True(await TableExistsAsync(db.DataSource, "orleans_grain_state"));
    }

    [Fact]
    public async Task MigrateAsync_TwoProcessesAtOnce_BothSucceedAndEachScriptRunsOnce()
    {
        await using var db = await TestDatabase.CreateAsync(migrate: false);
        await using var first = db.CreateDataSource();
        await using var second = db.CreateDataSource();
        // 0902 is not idempotent: running it twice would leave two rows.
        IReadOnlyList<Migration> scripts =
        [
            .. Migration.Embedded(),
            Migration.Create("0901_run_log.sql", "CREATE TABLE run_log (script text NOT NULL);"),
            Migration.Create("0902_log_once.sql", "INSERT INTO run_log VALUES ('0902'); SELECT pg_sleep(0.2);"),
        ];

        await Task.WhenAll(
            Task.Run(() => MigrationRunner.MigrateAsync(first, scripts, NullLogger.Instance, Ct), Ct),
            Task.Run(() => MigrationRunner.MigrateAsync(second, scripts, NullLogger.Instance, Ct), Ct));

        Assert.Equal(scripts.Select(m => m.Version), await AppliedVersionsAsync(db.DataSource));
        await using var count = db.DataSource.CreateCommand("SELECT count(*) FROM run_log");
        Assert.Equal(1L, await count.ExecuteScalarAsync(Ct));
    }

    [Fact]
    public async Task MigrateAsync_AppliedScriptChanged_ThrowsNamingTheFile()
    {
        await using var db = await TestDatabase.CreateAsync(migrate: false);
        await MigrationRunner.MigrateAsync(
            db.DataSource, [Migration.Create("0001_things.sql", "CREATE TABLE things (id int);")], NullLogger.Instance, Ct);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => MigrationRunner.MigrateAsync(
            db.DataSource,
            [
                Migration.Create("0001_things.sql", "CREATE TABLE things (id bigint);"),
                Migration.Create("0002_more.sql", "CREATE TABLE more (id int);"),
            ],
            NullLogger.Instance,
            Ct));

        Assert.Contains("0001_things.sql", error.Message, StringComparison.Ordinal);
        Assert.False(await TableExistsAsync(db.DataSource, "more"));
    }

    [Fact]
    public async Task MigrateAsync_OnlyLineEndingsChanged_IsNotAChange()
    {
        await using var db = await TestDatabase.CreateAsync(migrate: false);
        await MigrationRunner.MigrateAsync(
            db.DataSource, [Migration.Create("0001_things.sql", "CREATE TABLE things (id int);\nSELECT 1;\n")], NullLogger.Instance, Ct);

        await MigrationRunner.MigrateAsync(
            db.DataSource, [Migration.Create("0001_things.sql", "CREATE TABLE things (id int);\r\nSELECT 1;\r\n")], NullLogger.Instance, Ct);

        Assert.Equal([1], await AppliedVersionsAsync(db.DataSource));
    }

    [Fact]
    public async Task MigrateAsync_FailingScript_RollsBackThatScriptAndKeepsEarlierOnes()
    {
        await using var db = await TestDatabase.CreateAsync(migrate: false);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => MigrationRunner.MigrateAsync(
            db.DataSource,
            [
                Migration.Create("0001_good.sql", "CREATE TABLE good (id int);"),
                Migration.Create("0002_bad.sql", "CREATE TABLE half (id int); SELECT * FROM missing_table;"),
            ],
            NullLogger.Instance,
            Ct));

        Assert.Contains("0002_bad.sql", error.Message, StringComparison.Ordinal);
        Assert.Equal([1], await AppliedVersionsAsync(db.DataSource));
        Assert.False(await TableExistsAsync(db.DataSource, "half"));
    }

    private static async Task<List<int>> AppliedVersionsAsync(NpgsqlDataSource dataSource)
    {
        await using var cmd = dataSource.CreateCommand("SELECT version FROM schema_migrations ORDER BY version");
        await using var reader = await cmd.ExecuteReaderAsync(Ct);
        var versions = new List<int>();
        while (await reader.ReadAsync(Ct))
        {
            versions.Add(reader.GetInt32(0));
        }

        return versions;
    }

    private static async Task<bool> TableExistsAsync(NpgsqlDataSource dataSource, string table)
    {
        await using var cmd = dataSource.CreateCommand("SELECT to_regclass($1) IS NOT NULL");
        cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = table });
        return (bool)(await cmd.ExecuteScalarAsync(Ct))!;
    }
}
