using System.Text.RegularExpressions;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;

namespace OdooFleet.Agent.Resources;

/// <summary>
/// A database owned by a role. <see cref="LcCollate"/> is only used when the database is created
/// (Odoo itself creates its databases from template0 with LC_COLLATE 'C', for indexes LIKE can
/// use); an existing database keeps its collation, since changing it takes a dump and restore.
/// </summary>
internal sealed partial record PgDatabaseSpec(string Name, string Owner, string Encoding = "UTF8", string Template = "template0")
{
    public string? LcCollate { get; init; } = "C";

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!Grammar.IsDatabaseName(Name))
        {
            errors.Add($"postgres.databases: name '{Grammar.Printable(Name)}' must be letters, digits, '_' or '-', starting with a letter or digit, at most 63 (an Odoo database name); fix the tenant's database name");
            return errors;
        }

        var field = $"postgres.databases.{Name}";
        if (!Grammar.IsSqlIdentifier(Owner))
        {
            errors.Add($"{field}.owner: '{Grammar.Printable(Owner)}' must be a lowercase SQL identifier (e.g. \"odoo\"); fix the owner role");
        }

        if (!EncodingPattern().IsMatch(Encoding))
        {
            errors.Add($"{field}.encoding: '{Grammar.Printable(Encoding)}' must be a PostgreSQL encoding name as pg_database shows it (uppercase, e.g. \"UTF8\"); Odoo needs UTF8");
        }

        if (!Grammar.IsSqlIdentifier(Template))
        {
            errors.Add($"{field}.template: '{Grammar.Printable(Template)}' must be a lowercase SQL identifier (e.g. \"template0\"); fix the template");
        }

        if (LcCollate is { } collate && !LocalePattern().IsMatch(collate))
        {
            errors.Add($"{field}.lc_collate: '{Grammar.Printable(collate)}' must be a locale name (letters, digits, '_', '.', '-', '@', e.g. \"C\" or \"en_US.UTF-8\"); fix the collation");
        }

        return errors;
    }

    [GeneratedRegex(@"^[A-Z][A-Z0-9_]{0,19}\z")]
    private static partial Regex EncodingPattern();

    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}\z")]
    private static partial Regex LocalePattern();
}

/// <summary>
/// Creates a missing database and keeps its owner. A database with another encoding is reported,
/// never "fixed": re-creating it would drop the tenant's data.
/// </summary>
internal sealed class PgDatabaseResource : Resource<PgDatabaseResource.Observed>
{
    private readonly Psql psql;
    private readonly PgDatabaseSpec spec;

    public PgDatabaseResource(ICommandRunner runner, PostgresCluster cluster, PgDatabaseSpec spec)
    {
        var errors = cluster.Validate().Concat(spec.Validate()).ToList();
        if (errors.Count > 0)
        {
            throw new SpecValidationException(errors);
        }

        psql = new Psql(runner, cluster);
        this.spec = spec;
    }

    internal sealed record Observed(bool Exists, string Encoding, string Owner) : Observation;

    public override string Id => $"pg-database:{spec.Name}";

    public override string Kind => "pg-database";

    protected override async Task<Observed> ObserveTypedAsync(CancellationToken ct)
    {
        var rows = await psql.QueryAsync(
            """
            SELECT pg_encoding_to_char(d.encoding), r.rolname
            FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba
            WHERE d.datname = :'name';

            """,
            new Dictionary<string, string> { ["name"] = spec.Name }, 2, ct);
        return rows.Count == 0 ? new Observed(false, "", "") : new Observed(true, rows[0][0], rows[0][1]);
    }

    protected override Change? Diff(Observed observed, IReadOnlySet<string> changedDependencies)
    {
        if (!observed.Exists)
        {
            var collate = spec.LcCollate is null ? "" : $", LC_COLLATE {spec.LcCollate}";
            return new DatabaseChange($"create database {spec.Name} (owner {spec.Owner}, {spec.Encoding}, template {spec.Template}{collate})", Create: true);
        }

        if (observed.Encoding != spec.Encoding)
        {
            throw new ResourceFailedException(
                $"database {spec.Name} exists with encoding {observed.Encoding}, the spec wants {spec.Encoding}; the agent does not re-create databases: "
                + $"dump it (pg_dump -Fc), drop it, let the agent create it with {spec.Encoding} and restore the dump");
        }

        return observed.Owner == spec.Owner
            ? null
            : new DatabaseChange($"change owner of database {spec.Name}: {observed.Owner} -> {spec.Owner}", Create: false);
    }

    public override async Task<string?> ApplyAsync(Change change, CancellationToken ct)
    {
        var variables = new Dictionary<string, string>
        {
            ["name"] = spec.Name,
            ["owner"] = spec.Owner,
            ["encoding"] = spec.Encoding,
            ["template"] = spec.Template,
        };
        if (((DatabaseChange)change).Create)
        {
            var collate = "";
            if (spec.LcCollate is { } lcCollate)
            {
                variables["collate"] = lcCollate;
                collate = " LC_COLLATE :'collate'";
            }

            // psql runs each statement in autocommit, which CREATE DATABASE requires; copying a big template takes a while.
            await psql.ExecuteAsync(
                $"CREATE DATABASE :\"name\" WITH OWNER :\"owner\" ENCODING :'encoding' TEMPLATE :\"template\"{collate};\n",
                variables, TimeSpan.FromMinutes(10), ct);
        }
        else
        {
            await psql.ExecuteAsync("ALTER DATABASE :\"name\" OWNER TO :\"owner\";\n", variables, ct);
        }

        return null;
    }

    private sealed record DatabaseChange(string Description, bool Create) : Change(Description);
}
