using System.Text.RegularExpressions;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;

namespace OdooFleet.Agent.Resources;

/// <summary>
/// A PostgreSQL role. The Odoo profile uses odoo LOGIN CREATEDB NOSUPERUSER NOCREATEROLE with
/// peer authentication (no password). A password is only ever given as a SCRAM-SHA-256 verifier
/// (what pg_authid stores), never in clear; null leaves the role's password alone.
/// </summary>
internal sealed partial record PgRoleSpec(
    string Name, bool Login, bool CreateDb, bool Superuser = false, bool CreateRole = false, string? PasswordVerifier = null)
{
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!Grammar.IsSqlIdentifier(Name))
        {
            errors.Add($"postgres.roles: name '{Grammar.Printable(Name)}' must be a lowercase SQL identifier (^[a-z_][a-z0-9_]{{0,62}}$, e.g. \"odoo\"); fix the role name");
        }
        else if (Name.StartsWith("pg_", StringComparison.Ordinal))
        {
            errors.Add($"postgres.roles.{Name}: names starting with 'pg_' are reserved by PostgreSQL; choose another role name");
        }

        if (PasswordVerifier is { } verifier && !ScramVerifierPattern().IsMatch(verifier))
        {
            // Never echo it: a clear password pasted here by mistake must not reach a report.
            errors.Add($"postgres.roles.{Grammar.Printable(Name)}.password: is not a SCRAM-SHA-256 verifier (SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>, base64, 32-byte keys); "
                + "give the verifier computed on the controller, never a clear password");
        }

        return errors;
    }

    /// <summary>
    /// The exact shape PostgreSQL parses as a verifier; anything else it would hash as a clear
    /// password, so a malformed verifier must never reach ALTER ROLE.
    /// </summary>
    [GeneratedRegex(@"^SCRAM-SHA-256\$[1-9][0-9]{0,8}:(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=\z")]
    private static partial Regex ScramVerifierPattern();
}

internal sealed class PgRoleResource : Resource<PgRoleResource.Observed>
{
    private readonly Psql psql;
    private readonly PgRoleSpec spec;

    public PgRoleResource(ICommandRunner runner, PostgresCluster cluster, PgRoleSpec spec)
    {
        var errors = cluster.Validate().Concat(spec.Validate()).ToList();
        if (errors.Count > 0)
        {
            throw new SpecValidationException(errors);
        }

        psql = new Psql(runner, cluster);
        this.spec = spec;
    }

    /// <summary>What the role has; the verifier itself is compared here and never kept.</summary>
    internal sealed record Observed(bool Exists, bool Login, bool CreateDb, bool Superuser, bool CreateRole, bool PasswordMatches) : Observation;

    public override string Id => $"pg-role:{spec.Name}";

    public override string Kind => "pg-role";

    protected override async Task<Observed> ObserveTypedAsync(CancellationToken ct)
    {
        // pg_authid (not pg_roles) because only it shows the verifier; psql runs as a superuser.
        var rows = await psql.QueryAsync(
            "SELECT rolcanlogin, rolcreatedb, rolsuper, rolcreaterole, coalesce(rolpassword, '') FROM pg_authid WHERE rolname = :'name';\n",
            new Dictionary<string, string> { ["name"] = spec.Name }, 5, ct);
        if (rows.Count == 0)
        {
            return new Observed(false, false, false, false, false, false);
        }

        var row = rows[0];
        var passwordMatches = spec.PasswordVerifier is null || string.Equals(row[4], spec.PasswordVerifier, StringComparison.Ordinal);
        return new Observed(true, row[0] == "t", row[1] == "t", row[2] == "t", row[3] == "t", passwordMatches);
    }

    protected override Change? Diff(Observed observed, IReadOnlySet<string> changedDependencies)
    {
        if (!observed.Exists)
        {
            var password = spec.PasswordVerifier is null ? "" : " with a password verifier";
            return new RoleChange($"create role {spec.Name} ({Attributes}){password}", Create: true);
        }

        var differences = new List<string>();
        void Compare(bool current, bool desired, string keyword)
        {
            if (current != desired)
            {
                differences.Add($"{Keyword(desired, keyword)} (was {Keyword(current, keyword)})");
            }
        }

        Compare(observed.Login, spec.Login, "LOGIN");
        Compare(observed.CreateDb, spec.CreateDb, "CREATEDB");
        Compare(observed.Superuser, spec.Superuser, "SUPERUSER");
        Compare(observed.CreateRole, spec.CreateRole, "CREATEROLE");
        if (!observed.PasswordMatches)
        {
            differences.Add("password verifier differs");
        }

        return differences.Count == 0 ? null : new RoleChange($"alter role {spec.Name}: {string.Join(", ", differences)}", Create: false);
    }

    public override async Task<string?> ApplyAsync(Change change, CancellationToken ct)
    {
        var create = ((RoleChange)change).Create;
        var variables = new Dictionary<string, string> { ["name"] = spec.Name };
        var password = "";
        if (spec.PasswordVerifier is { } verifier)
        {
            variables["password"] = verifier;
            password = " PASSWORD :'password'";
        }

        // Every attribute is stated, so the same statement corrects any drift.
        var sql = $"{(create ? "CREATE" : "ALTER")} ROLE :\"name\" WITH {Attributes}{password};\n";
        try
        {
            await psql.ExecuteAsync(sql, variables, ct);
        }
        catch (CommandFailedException e) when (spec.PasswordVerifier is { } secret)
        {
            throw new ResourceFailedException(e.Message.Replace(secret, "<verifier>", StringComparison.Ordinal));
        }

        return null;
    }

    private string Attributes => string.Join(' ',
        Keyword(spec.Login, "LOGIN"), Keyword(spec.CreateDb, "CREATEDB"), Keyword(spec.Superuser, "SUPERUSER"), Keyword(spec.CreateRole, "CREATEROLE"));

    private static string Keyword(bool value, string keyword) => value ? keyword : "NO" + keyword;

    private sealed record RoleChange(string Description, bool Create) : Change(Description);
}
