using System.Data.Common;
using Npgsql;

namespace OdooFleet.Controller.Persistence;

/// <summary>
/// The connection pool's ceiling. Npgsql's default (100 per process) lets two controllers exhaust
/// PostgreSQL's default max_connections (100) under a large rollout, after which every statement
/// waits for a connection; a smaller pool queues inside the process instead.
/// </summary>
internal static class DatabasePool
{
    public const int DefaultMaxPoolSize = 40;

    private static readonly string[] PoolKeys = ["maximum pool size", "maxpoolsize"];

    /// <summary>Reads Database:MaxPoolSize (absent: the default); Error names the rule and the fix.</summary>
    public static (int Size, string? Error) Parse(string? raw)
    {
        if (string.IsNullOrWhiteSpace(raw))
        {
            return (DefaultMaxPoolSize, null);
        }

        if (!int.TryParse(raw, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var size) || size is < 2 or > 1000)
        {
            return (0, $"Database:MaxPoolSize is '{raw}': it must be a whole number from 2 to 1000; keep controllers x MaxPoolSize below PostgreSQL's max_connections (default {DefaultMaxPoolSize})");
        }

        return (size, null);
    }

    /// <summary>
    /// Sets Maximum Pool Size to <paramref name="maxPoolSize"/> unless the connection string sets
    /// it itself (an explicit value there wins).
    /// </summary>
    public static string Apply(string connectionString, int maxPoolSize)
    {
        var given = new DbConnectionStringBuilder { ConnectionString = connectionString };
        if (given.Keys.Cast<string>().Any(g => PoolKeys.Contains(g.Replace("_", " ", StringComparison.Ordinal), StringComparer.OrdinalIgnoreCase)))
        {
            return connectionString;
        }

        return new NpgsqlConnectionStringBuilder(connectionString) { MaxPoolSize = maxPoolSize }.ConnectionString;
    }
}
