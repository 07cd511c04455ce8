using System.Security.Cryptography;
using System.Text;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Resources;

namespace OdooFleet.Agent.Tests.Resources;

[Collection(ScratchPostgresGroup.Name)]
public sealed class PsqlTests(ScratchPostgres postgres)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private void SkipWithoutPostgres() => Assert.SkipWhen(postgres.SkipReason is not null, postgres.SkipReason ?? "");

    [Theory]
    [InlineData("it's")]
    [InlineData("a\"b")]
    [InlineData("back\\slash \\' \\\\")]
    [InlineData("x'; DROP ROLE postgres; --")]
    [InlineData(":'name' :\"name\" :name")]
    [InlineData("{braces} $$dollar$$ $tag$")]
    [InlineData("two\nlines\ttab")]
    [InlineData("")]
    public async Task QueryAsync_HostileValue_ReachesSqlVerbatim(string value)
    {
        SkipWithoutPostgres();

        // A hash and the length, so the value itself never has to survive psql's row format.
        var rows = await postgres.Psql.QueryAsync(
            "SELECT encode(sha256(convert_to(:'value', 'UTF8')), 'hex'), length(:'value');\n", new Dictionary<string, string> { ["value"] = value }, 2, Ct);

        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value))), rows[0][0]);
        Assert.Equal(value.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), rows[0][1]);
    }

    [Fact]
    public async Task QueryAsync_EmptyNullAndNoRows_EachAsPrinted()
    {
        SkipWithoutPostgres();

        var rows = await postgres.Psql.QueryAsync(
            "SELECT 1 WHERE false;\nSELECT '';\nSELECT NULL;\nSELECT 'x';\n", new Dictionary<string, string>(), 1, Ct);
        var none = await postgres.Psql.QueryAsync("SELECT 1 WHERE false;\n", new Dictionary<string, string>(), 1, Ct);

        Assert.Equal(["", "", "x"], rows.Select(row => row[0]));
        Assert.Empty(none);
    }

    [Fact]
    public async Task QueryAsync_HostileIdentifier_IsQuotedAsOneName()
    {
        SkipWithoutPostgres();

        var rows = await postgres.Psql.QueryAsync(
            "SELECT 1 AS :\"column\";\n", new Dictionary<string, string> { ["column"] = "x\"; DROP TABLE y; --" }, 1, Ct);

        Assert.Equal("1", Assert.Single(rows)[0]);
    }

    [Fact]
    public async Task QueryAsync_SqlError_ReportsPostgresErrorWithoutEchoedStatement()
    {
        SkipWithoutPostgres();

        var error = await Assert.ThrowsAsync<CommandFailedException>(() =>
            postgres.Psql.QueryAsync("SELECT 1;\nSELECT no_such_column FROM pg_roles;\n", new Dictionary<string, string>(), 1, Ct));

        Assert.Contains($"PostgreSQL {postgres.Cluster}", error.Message, StringComparison.Ordinal);
        Assert.Contains("ERROR:  column \"no_such_column\" does not exist", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("LINE", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("psql:<stdin>", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task QueryAsync_NoServerOnPort_SaysItCannotConnect()
    {
        SkipWithoutPostgres();
        var nowhere = new Psql(ScratchPostgres.Runner, postgres.Cluster with { Port = 1 });

        var error = await Assert.ThrowsAsync<CommandFailedException>(() =>
            nowhere.QueryAsync("SELECT 1;\n", new Dictionary<string, string> { ["secret"] = "do-not-show" }, 1, Ct));

        Assert.Contains("cannot connect to PostgreSQL", error.Message, StringComparison.Ordinal);
        Assert.Contains("pg_lsclusters", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("do-not-show", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task QueryAsync_RowWithTab_FailsInsteadOfMisparsing()
    {
        SkipWithoutPostgres();

        var error = await Assert.ThrowsAsync<CommandFailedException>(() =>
            postgres.Psql.QueryAsync("SELECT 'a' || chr(9) || 'b';\n", new Dictionary<string, string>(), 1, Ct));

        Assert.Contains("2 fields where 1 were expected", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("15", "main", 5432, null)]
    [InlineData("9.6", "main", 5432, null)]
    [InlineData("15", "tenant_b-2", 5433, null)]
    [InlineData("15.2", "main", 5432, "postgres.cluster.version")]
    [InlineData("15; rm", "main", 5432, "postgres.cluster.version")]
    [InlineData("15", "-main", 5432, "postgres.cluster.name")]
    [InlineData("15", "ma in", 5432, "postgres.cluster.name")]
    [InlineData("15", "Main", 5432, "postgres.cluster.name")]
    [InlineData("15", "main", 0, "postgres.cluster.port")]
    [InlineData("15", "main", 70000, "postgres.cluster.port")]
    public void Validate_Cluster_NamesTheBadField(string version, string name, int port, string? field)
    {
        var errors = new PostgresCluster(version, name, port).Validate();

        if (field is null)
        {
            Assert.Empty(errors);
        }
        else
        {
            Assert.StartsWith(field + ":", Assert.Single(errors), StringComparison.Ordinal);
        }
    }
}
