using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Npgsql;

namespace OdooFleet.Controller.Persistence;

/// <summary>One versioned schema script, <c>NNNN_name.sql</c>.</summary>
internal sealed partial record Migration(int Version, string FileName, string Sql)
{
    /// <summary>SHA-256 of the script with line endings normalised, so a checkout with CRLF is not "changed".</summary>
    public string Hash { get; } = Convert.ToHexStringLower(
        SHA256.HashData(Encoding.UTF8.GetBytes(Sql.ReplaceLineEndings("\n"))));

    /// <summary>Builds a migration from its file name, which must look like <c>0001_orleans.sql</c>.</summary>
    public static Migration Create(string fileName, string sql)
    {
        var match = FileNamePattern().Match(fileName);
        if (!match.Success)
        {
            throw new InvalidOperationException(
                $"Migration file '{fileName}' is misnamed: names must be NNNN_name.sql (four digits, underscore, " +
                "lower-case name), e.g. 0003_tenants.sql.");
        }

        return new Migration(int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture), fileName, sql);
    }

    /// <summary>The scripts embedded from <c>Persistence/Migrations/*.sql</c>, in version order.</summary>
    public static IReadOnlyList<Migration> Embedded() => FromAssembly(typeof(Migration).Assembly);

    public static IReadOnlyList<Migration> FromAssembly(Assembly assembly)
    {
        const string Marker = ".Persistence.Migrations.";
        var migrations = new List<Migration>();
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            var at = resource.IndexOf(Marker, StringComparison.Ordinal);
            if (at < 0 || !resource.EndsWith(".sql", StringComparison.Ordinal))
            {
                continue;
            }

            using var stream = assembly.GetManifestResourceStream(resource)
                ?? throw new InvalidOperationException($"Embedded migration '{resource}' cannot be read.");
            using var reader = new StreamReader(stream, Encoding.UTF8);
            migrations.Add(Create(resource[(at + Marker.Length)..], reader.ReadToEnd()));
        }

        return Ordered(migrations);
    }

    /// <summary>Sorts by version and rejects two scripts claiming one version.</summary>
    public static IReadOnlyList<Migration> Ordered(IEnumerable<Migration> migrations)
    {
        var sorted = migrations.OrderBy(m => m.Version).ToList();
        for (var i = 1; i < sorted.Count; i++)
        {
            if (sorted[i].Version == sorted[i - 1].Version)
            {
                throw new InvalidOperationException(
                    $"Migrations '{sorted[i - 1].FileName}' and '{sorted[i].FileName}' share version " +
                    $"{sorted[i].Version}; renumber one of them.");
            }
        }

        return sorted;
    }

    [GeneratedRegex(@"^(\d{4})_[a-z0-9_]+\.sql$")]
    private static partial Regex FileNamePattern();
}

/// <summary>
/// Applies the schema scripts in version order, each in its own transaction, and records them in
/// <c>schema_migrations</c>. Every transaction first takes one PostgreSQL advisory lock, so several
/// controller processes starting together serialise here and each script runs exactly once.
/// </summary>
internal static partial class MigrationRunner
{
    /// <summary>Arbitrary, fixed key of the advisory lock that serialises migrations ("odoofleet" in ASCII).</summary>
    private const long LockKey = 0x6F646F6F666C6565;

    private const string Bootstrap =
        """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version    integer PRIMARY KEY,
            name       text NOT NULL,
            sha256     text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )
        """;

    /// <summary>Applies the embedded scripts. Call before the silo starts; safe to call any number of times.</summary>
    public static Task MigrateAsync(NpgsqlDataSource dataSource, ILogger logger, CancellationToken ct) =>
        MigrateAsync(dataSource, Migration.Embedded(), logger, ct);

    public static async Task MigrateAsync(
        NpgsqlDataSource dataSource, IReadOnlyList<Migration> migrations, ILogger logger, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        var ordered = Migration.Ordered(migrations);
        await using var connection = await dataSource.OpenConnectionAsync(ct);

        // First pass: create the ledger and check every applied script is unchanged before running anything.
        Dictionary<int, AppliedMigration> applied;
        await using (var tx = await connection.BeginTransactionAsync(ct))
        {
            await LockAsync(connection, tx, ct);
            await using (var create = new NpgsqlCommand(Bootstrap, connection, tx))
            {
                await create.ExecuteNonQueryAsync(ct);
            }

            applied = await ReadAppliedAsync(connection, tx, ct);
            await tx.CommitAsync(ct);
        }

        foreach (var migration in ordered)
        {
            if (applied.TryGetValue(migration.Version, out var record))
            {
                EnsureUnchanged(migration, record);
            }
        }

        foreach (var unknown in applied.Values.Where(a => ordered.All(m => m.Version != a.Version)))
        {
            LogUnknownMigration(logger, unknown.Version, unknown.Name);
        }

        foreach (var migration in ordered.Where(m => !applied.ContainsKey(m.Version)))
        {
            await ApplyAsync(connection, migration, logger, ct);
        }
    }

    private static async Task ApplyAsync(NpgsqlConnection connection, Migration migration, ILogger logger, CancellationToken ct)
    {
        await using var tx = await connection.BeginTransactionAsync(ct);
        await LockAsync(connection, tx, ct);

        // Another process may have applied it while we waited for the lock.
        var current = await ReadAppliedAsync(connection, tx, ct);
        if (current.TryGetValue(migration.Version, out var record))
        {
            EnsureUnchanged(migration, record);
            await tx.RollbackAsync(ct);
            return;
        }

        try
        {
            await using (var script = new NpgsqlCommand(migration.Sql, connection, tx))
            {
                await script.ExecuteNonQueryAsync(ct);
            }
        }
        catch (PostgresException e)
        {
            throw new InvalidOperationException(
                $"Migration {migration.FileName} failed and was rolled back: {e.MessageText} (SQLSTATE {e.SqlState}" +
                (e.Position > 0 ? $", at character {e.Position}" : "") + "). Fix the script and start again.", e);
        }

        await using (var insert = new NpgsqlCommand(
            "INSERT INTO schema_migrations (version, name, sha256) VALUES ($1, $2, $3)", connection, tx))
        {
            insert.Parameters.Add(new NpgsqlParameter<int> { TypedValue = migration.Version });
            insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = migration.FileName });
            insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = migration.Hash });
            await insert.ExecuteNonQueryAsync(ct);
        }

        await tx.CommitAsync(ct);
        LogApplied(logger, migration.FileName);
    }

    private static async Task LockAsync(NpgsqlConnection connection, NpgsqlTransaction tx, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("SELECT pg_advisory_xact_lock($1)", connection, tx);
        cmd.Parameters.Add(new NpgsqlParameter<long> { TypedValue = LockKey });
        await cmd.ExecuteNonQueryAsync(ct);
    }

    private static async Task<Dictionary<int, AppliedMigration>> ReadAppliedAsync(
        NpgsqlConnection connection, NpgsqlTransaction tx, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("SELECT version, name, sha256 FROM schema_migrations", connection, tx);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var applied = new Dictionary<int, AppliedMigration>();
        while (await reader.ReadAsync(ct))
        {
            var row = new AppliedMigration(reader.GetInt32(0), reader.GetString(1), reader.GetString(2));
            applied[row.Version] = row;
        }

        return applied;
    }

    private static void EnsureUnchanged(Migration migration, AppliedMigration record)
    {
        if (!string.Equals(record.Sha256, migration.Hash, StringComparison.Ordinal))
        {
            throw new InvalidOperationException(
                $"Migration {migration.FileName} was changed after it was applied to this database (as {record.Name}, " +
                $"sha256 {record.Sha256}; the file now hashes to {migration.Hash}). Applied scripts are immutable: " +
                "restore the original file and put the change in a new NNNN_name.sql migration.");
        }
    }

    private sealed record AppliedMigration(int Version, string Name, string Sha256);

    [LoggerMessage(Level = LogLevel.Information, Message = "Applied schema migration {FileName}")]
    private static partial void LogApplied(ILogger logger, string fileName);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Database has schema migration {Version} ({Name}) that this controller does not know; is an older controller running against a newer schema?")]
    private static partial void LogUnknownMigration(ILogger logger, int version, string name);
}
