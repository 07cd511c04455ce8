using CsCheck;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Resources;
using OdooFleet.Agent.Tests.Resources;
using OdooFleet.Fuzz;

namespace OdooFleet.Agent.Tests.Fuzz;

/// <summary>
/// Database names the fuzzer's hostile generator got accepted, created for real in the scratch
/// PostgreSQL cluster: each one exists afterwards under exactly its name (quoting held: no
/// folding to lowercase, no other object touched), and a second converge changes nothing.
/// </summary>
[Collection(ScratchPostgresGroup.Name)]
public sealed class SqlRealPostgresFuzzTests(ScratchPostgres postgres)
{
    private const int Generated = 2_000;
    private const int ThroughPostgres = 8;

    [Fact]
    public async Task PgDatabase_AcceptedHostileSampleNames_CreatedUnderExactlyThatName()
    {
        Assert.SkipWhen(postgres.SkipReason is not null, postgres.SkipReason ?? "");
        var ct = TestContext.Current.CancellationToken;

        // Names that need identifier quoting (uppercase, '-', a leading digit) or are the longest PostgreSQL keeps.
        var names = new List<string>();
        Hostile.Around(Valid.DatabaseName).Sample(
            name =>
            {
                if (names.Count < ThroughPostgres && Grammar.IsDatabaseName(name) && !names.Contains(name)
                    && (name.Any(c => char.IsAsciiLetterUpper(c) || c == '-') || char.IsAsciiDigit(name[0]) || name.Length == 63))
                {
                    names.Add(name);
                }
            },
            iter: Generated,
            threads: 1);
        Assert.Equal(ThroughPostgres, names.Count);

        var owner = "oft_fuzz_" + ScratchPostgres.Unique();
        await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, ct, new PgRoleResource(ScratchPostgres.Runner, postgres.Cluster, new PgRoleSpec(owner, Login: false, CreateDb: false)));
        var before = await postgres.ScalarAsync("SELECT count(*) FROM pg_database;\n", ct);
        foreach (var name in names)
        {
            var database = new PgDatabaseResource(ScratchPostgres.Runner, postgres.Cluster, new PgDatabaseSpec(name, owner));
            var created = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, ct, database);
            var again = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, ct, database);
            var found = await postgres.ScalarAsync(
                "SELECT count(*) FROM pg_database WHERE datname = :'name';\n", ct, new Dictionary<string, string> { ["name"] = name });
            await postgres.Psql.ExecuteAsync("DROP DATABASE :\"name\";\n", new Dictionary<string, string> { ["name"] = name }, ct);

            Assert.True(created.Status == ResourceStatus.Changed, $"{name}: {created.Message}");
            Assert.Equal(ResourceStatus.Unchanged, again.Status);
            Assert.Equal("1", found);
        }

        Assert.Equal(before, await postgres.ScalarAsync("SELECT count(*) FROM pg_database;\n", ct));
        await postgres.ExecuteAsync($"DROP ROLE {owner};\n", ct);
        TestContext.Current.TestOutputHelper?.WriteLine($"PostgreSQL created, re-converged and dropped {names.Count} databases with accepted hostile-sample names: {string.Join(" ", names.Take(5))} ...");
    }
}
