using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Resources;

namespace OdooFleet.Agent.Tests.Resources;

[Collection(ScratchPostgresGroup.Name)]
public sealed class PgRoleResourceTests(ScratchPostgres postgres)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private void SkipWithoutPostgres() => Assert.SkipWhen(postgres.SkipReason is not null, postgres.SkipReason ?? "");

    /// <summary>The Odoo profile's shape: LOGIN CREATEDB NOSUPERUSER NOCREATEROLE, peer auth, no password.</summary>
    private static PgRoleSpec OdooLike(string name) => new(name, Login: true, CreateDb: true);

    private PgRoleResource Role(PgRoleSpec spec) => new(ScratchPostgres.Runner, postgres.Cluster, spec);

    private Task<string> AttributesAsync(string name) => postgres.ScalarAsync(
        "SELECT concat_ws(',', rolcanlogin, rolcreatedb, rolsuper, rolcreaterole) FROM pg_roles WHERE rolname = :'name';\n",
        Ct, new Dictionary<string, string> { ["name"] = name });

    /// <summary>A SCRAM-SHA-256 verifier as PostgreSQL computes it (RFC 5802/7677), for a known password.</summary>
    private static string Verifier(string password, int iterations = 4096)
    {
        var salt = RandomNumberGenerator.GetBytes(16);
        var salted = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA256, 32);
        var storedKey = SHA256.HashData(HMACSHA256.HashData(salted, "Client Key"u8));
        var serverKey = HMACSHA256.HashData(salted, "Server Key"u8);
        return $"SCRAM-SHA-256${iterations}:{Convert.ToBase64String(salt)}${Convert.ToBase64String(storedKey)}:{Convert.ToBase64String(serverKey)}";
    }

    [Fact]
    public async Task Converge_NewRole_CreatedThenSecondRunUnchanged()
    {
        SkipWithoutPostgres();
        var name = "oft_odoo_" + ScratchPostgres.Unique();

        var first = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Role(OdooLike(name)));
        var second = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Role(OdooLike(name)));

        Assert.Equal(ResourceStatus.Changed, first.Status);
        Assert.Equal($"create role {name} (LOGIN CREATEDB NOSUPERUSER NOCREATEROLE)", first.Message);
        Assert.Equal("t,t,f,f", await AttributesAsync(name));
        Assert.Equal(ResourceStatus.Unchanged, second.Status);
    }

    [Fact]
    public async Task Converge_AttributesChangedByHand_CheckReportsThenApplyPutsBack()
    {
        SkipWithoutPostgres();
        var name = "oft_drift_" + ScratchPostgres.Unique();
        await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Role(OdooLike(name)));
        await postgres.Psql.ExecuteAsync("ALTER ROLE :\"name\" NOLOGIN SUPERUSER CREATEROLE;\n", new Dictionary<string, string> { ["name"] = name }, Ct);

        var check = await ScratchPostgres.ConvergeAsync(ConvergeMode.Check, Ct, Role(OdooLike(name)));
        var stillDrifted = await AttributesAsync(name);
        var apply = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Role(OdooLike(name)));
        var again = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Role(OdooLike(name)));

        Assert.Equal(
            $"would alter role {name}: LOGIN (was NOLOGIN), NOSUPERUSER (was SUPERUSER), NOCREATEROLE (was CREATEROLE)", check.Message);
        Assert.Equal("f,t,t,t", stillDrifted);
        Assert.Equal(ResourceStatus.Changed, apply.Status);
        Assert.Equal("t,t,f,f", await AttributesAsync(name));
        Assert.Equal(ResourceStatus.Unchanged, again.Status);
    }

    [Fact]
    public async Task Converge_PasswordVerifier_StoredAsGivenLoginWorksAndDriftPutBack()
    {
        SkipWithoutPostgres();
        var name = "oft_remote_" + ScratchPostgres.Unique();
        var password = "correct horse " + ScratchPostgres.Unique();
        var verifier = Verifier(password);
        var spec = OdooLike(name) with { PasswordVerifier = verifier };

        var created = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Role(spec));
        var stored = await postgres.ScalarAsync(
            "SELECT rolpassword FROM pg_authid WHERE rolname = :'name';\n", Ct, new Dictionary<string, string> { ["name"] = name });
        var login = await LoginOverTcpAsync(name, password);
        await postgres.Psql.ExecuteAsync("ALTER ROLE :\"name\" PASSWORD 'changed by hand';\n", new Dictionary<string, string> { ["name"] = name }, Ct);
        var drift = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Role(spec));
        var again = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Role(spec));

        Assert.Equal(ResourceStatus.Changed, created.Status);
        Assert.DoesNotContain(verifier, created.Message, StringComparison.Ordinal);
        Assert.Equal(verifier, stored);
        Assert.True(login.Succeeded, login.Stderr);
        Assert.Equal(name, login.Stdout.Trim());
        Assert.Equal($"alter role {name}: password verifier differs", drift.Message);
        Assert.True((await LoginOverTcpAsync(name, password)).Succeeded);
        Assert.Equal(ResourceStatus.Unchanged, again.Status);
    }

    private async Task<CommandResult> LoginOverTcpAsync(string role, string password)
    {
        var spec = new CommandSpec("psql",
            ["-X", "-A", "-t", "-h", "127.0.0.1", "-p", postgres.Cluster.Port.ToString(CultureInfo.InvariantCulture), "-U", role, "-d", "postgres", "-c", "SELECT current_user"])
        {
            Environment = new Dictionary<string, string> { ["PGPASSWORD"] = password, ["PGCONNECT_TIMEOUT"] = "10" },
            WorkingDirectory = "/",
        };
        return await ScratchPostgres.Runner.RunAsync(spec, Ct);
    }

    [Theory]
    [InlineData("odoo\n")]
    [InlineData("odoo;drop")]
    [InlineData("od'oo")]
    [InlineData("od\"oo")]
    [InlineData("od{oo}")]
    [InlineData("Odoo")]
    [InlineData("-odoo")]
    [InlineData("")]
    [InlineData("pg_odoo")]
    public void Constructor_HostileOrReservedName_RejectedBeforeAnythingRuns(string name)
    {
        var runner = new NothingMayRun();

        var error = Assert.Throws<SpecValidationException>(() =>
            new PgRoleResource(runner, PostgresCluster.Default, OdooLike(name)));

        Assert.StartsWith("postgres.roles", Assert.Single(error.Errors), StringComparison.Ordinal);
        Assert.Equal(0, runner.Calls);
    }

    [Theory]
    [InlineData("hunter2")]
    [InlineData("md5a3556571e93b0d20722ba62be61e8c2d")]
    [InlineData("SCRAM-SHA-256$4096:c2FsdA==$short:short")]
    [InlineData("SCRAM-SHA-256$0:c2FsdA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")]
    [InlineData("SCRAM-SHA-256$4096:c2Fsd$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")]
    [InlineData("SCRAM-SHA-256$4096:c2FsdA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")]
    public void Constructor_PasswordNotAVerifier_RejectedWithoutEchoingIt(string password)
    {
        var error = Assert.Throws<SpecValidationException>(() =>
            new PgRoleResource(new NothingMayRun(), PostgresCluster.Default, OdooLike("odoo") with { PasswordVerifier = password }));

        var message = Assert.Single(error.Errors);
        Assert.StartsWith("postgres.roles.odoo.password: is not a SCRAM-SHA-256 verifier", message, StringComparison.Ordinal);
        Assert.DoesNotContain(password.Trim(), message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_VerifierAsPostgresWritesIt_Accepted() =>
        Assert.Empty((OdooLike("odoo") with { PasswordVerifier = Verifier("x") }).Validate());
}
