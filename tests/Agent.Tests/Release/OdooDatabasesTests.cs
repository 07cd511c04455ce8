using OdooFleet.Agent.Release;
using OdooFleet.Agent.Tests.Resources;

namespace OdooFleet.Agent.Tests.Release;

/// <summary>Listing, backup and restore of Odoo databases with the real psql, pg_dump and pg_restore on the scratch cluster.</summary>
[Collection(ScratchPostgresGroup.Name)]
public sealed class OdooDatabasesTests(ScratchPostgres postgres)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task DumpThenRestore_DatabaseChangedMeanwhile_ComesBackAsDumped()
    {
        Assert.SkipWhen(postgres.SkipReason is not null, postgres.SkipReason ?? "");
        var suffix = ScratchPostgres.Unique();
        var owner = $"odoo_{suffix}";
        var odooDb = $"acme-{suffix}";
        var otherDb = $"plain_{suffix}";
        await postgres.ExecuteAsync($"CREATE ROLE {owner} LOGIN;\nCREATE DATABASE \"{odooDb}\" OWNER {owner};\nCREATE DATABASE {otherDb} OWNER {owner};\n", Ct);
        var databases = new OdooDatabases(ScratchPostgres.Runner, postgres.Psql);
        await postgres.Psql.In(odooDb).ExecuteAsync(
            "CREATE TABLE ir_module_module (name text PRIMARY KEY, latest_version text, state text);\n"
            + "INSERT INTO ir_module_module VALUES ('base', '18.0.1.0', 'installed'), ('web', '18.0.1.0', 'installed'), ('sale', NULL, 'uninstalled');\n",
            new Dictionary<string, string>(), Ct);
        using var temp = new TempDirectory();
        var dump = temp.Combine($"{odooDb}.dump");
        try
        {
            var listed = await databases.ListAsync(owner, Ct);
            await databases.DumpAsync(odooDb, dump, Ct);
            await postgres.Psql.In(odooDb).ExecuteAsync("UPDATE ir_module_module SET latest_version = '18.0.1.1' WHERE name = 'web';\n", new Dictionary<string, string>(), Ct);
            var updated = await databases.InstalledModulesAsync(odooDb, Ct);
            await databases.RestoreAsync(odooDb, dump, Ct);
            var restored = await databases.InstalledModulesAsync(odooDb, Ct);

            Assert.Equal([odooDb], listed); // the database without ir_module_module is not Odoo's
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(dump));
            Assert.Equal("18.0.1.1", updated["web"]);
            Assert.Equal(new Dictionary<string, string> { ["base"] = "18.0.1.0", ["web"] = "18.0.1.0" }, restored.ToDictionary());
            Assert.Equal(owner, await postgres.ScalarAsync(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = :'db';\n", Ct, new Dictionary<string, string> { ["db"] = odooDb }));
        }
        finally
        {
            await postgres.ExecuteAsync($"DROP DATABASE IF EXISTS \"{odooDb}\" WITH (FORCE);\nDROP DATABASE IF EXISTS {otherDb};\nDROP ROLE IF EXISTS {owner};\n", Ct);
        }
    }

    [Fact]
    public async Task DumpAsync_NoSuchDatabase_FailsAndLeavesNoFile()
    {
        Assert.SkipWhen(postgres.SkipReason is not null, postgres.SkipReason ?? "");
        using var temp = new TempDirectory();
        var dump = temp.Combine("missing.dump");

        var e = await Assert.ThrowsAsync<OdooFleet.Agent.Engine.CommandFailedException>(
            () => new OdooDatabases(ScratchPostgres.Runner, postgres.Psql).DumpAsync($"missing_{ScratchPostgres.Unique()}", dump, Ct));

        Assert.Contains("backup of database missing_", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(dump));
    }

    [Fact]
    public void ToPrune_ThreeTransitions_KeepsTheNewestTwo()
    {
        var t = DateTimeOffset.UnixEpoch;

        var prune = OdooDatabases.ToPrune([("r-old", t), ("r-new", t.AddHours(2)), ("generation-7", t.AddHours(1))], 2);

        Assert.Equal(["r-old"], prune);
    }
}
