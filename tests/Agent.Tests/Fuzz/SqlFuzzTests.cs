using CsCheck;
using Microsoft.Extensions.Logging.Abstractions;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Resources;
using OdooFleet.Agent.Tests.Resources;
using OdooFleet.Fuzz;

namespace OdooFleet.Agent.Tests.Fuzz;

/// <summary>
/// Role, database and setting names into SQL: either the resource refuses the name with an error
/// naming the field before anything runs, or converging it runs psql with SQL text that is the same
/// byte for byte as for a benign name, the name travelling only as a psql variable (-v name=value).
/// </summary>
public sealed class SqlFuzzTests
{
    private const int Inputs = 5_000;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>psql answers "no rows" to every query, so each resource plans and runs its create statements.</summary>
    private static async Task<List<CommandSpec>> ConvergeAsync(Func<ICommandRunner, IResource> make)
    {
        var runner = new ScriptedCommandRunner().On("runuser -u postgres -- psql ", "");
        var engine = new ConvergeEngine(TimeProvider.System, NullLogger<ConvergeEngine>.Instance);
        var outcome = await engine.RunAsync([make(runner)], ConvergeMode.Apply, Ct);
        Assert.True(outcome.Success, outcome.Error);
        return runner.Commands;
    }

    private static async Task Property(string name, Gen<string> valid, string benign, string field, Func<ICommandRunner, string, IResource> make)
    {
        var tally = new FuzzTally(name);
        var expected = await ConvergeAsync(runner => make(runner, benign));
        Assert.NotEmpty(expected);
        await Hostile.Around(valid).SampleAsync(
            async input =>
            {
                List<CommandSpec> commands;
                try
                {
                    commands = await ConvergeAsync(runner => make(runner, input));
                }
                catch (SpecValidationException e)
                {
                    tally.Require(e.Errors.All(error => error.StartsWith(field, StringComparison.Ordinal) && Oracle.IsOneLine(error)), input,
                        $"refused without naming the field: {string.Join(" | ", e.Errors)}");
                    tally.Rejected();
                    return;
                }

                tally.Accepted();
                tally.Require(commands.Count == expected.Count, input, $"{commands.Count} psql runs, {expected.Count} for a benign name");
                for (var i = 0; i < commands.Count; i++)
                {
                    tally.Require(commands[i].StandardInput == expected[i].StandardInput, input, $"SQL text depends on the name: {commands[i].StandardInput}");
                    var replaced = expected[i].Arguments.Select(a => a.Replace($"={benign}", $"={input}", StringComparison.Ordinal));
                    tally.Require(commands[i].Arguments.SequenceEqual(replaced), input, "the name is not only in a psql variable");
                }
            },
            iter: Inputs,
            threads: 1,
            print: FuzzTally.Show);
        tally.Report();
    }

    [Fact]
    public Task PgRole_HostileNames_RefusedByFieldOrOnlyAPsqlVariable() =>
        Property("PgRoleResource", Valid.SqlIdentifier, "odoo", "postgres.roles",
            (runner, name) => new PgRoleResource(runner, PostgresCluster.Default, new PgRoleSpec(name, Login: true, CreateDb: true)));

    [Fact]
    public Task PgDatabase_HostileNames_RefusedByFieldOrOnlyAPsqlVariable() =>
        Property("PgDatabaseResource", Valid.DatabaseName, "acme", "postgres.databases",
            (runner, name) => new PgDatabaseResource(runner, PostgresCluster.Default, new PgDatabaseSpec(name, "odoo")));

    [Fact]
    public Task PgDatabaseOwner_HostileNames_RefusedByFieldOrOnlyAPsqlVariable() =>
        Property("PgDatabaseResource.Owner", Valid.SqlIdentifier, "odoo", "postgres.databases.acme.owner",
            (runner, owner) => new PgDatabaseResource(runner, PostgresCluster.Default, new PgDatabaseSpec("acme", owner)));
}
