using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging.Abstractions;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Resources;

namespace OdooFleet.Agent.Tests.Resources;

/// <summary>
/// A PostgreSQL cluster of its own for the PostgreSQL resource tests, so they can rewrite its
/// pg_hba.conf, ALTER SYSTEM and restart it without touching the box's main cluster (other tests
/// use that one). Named oft&lt;pid&gt;x&lt;random&gt;: clusters left by killed runs (their pid is gone) are
/// dropped at start; those of a run still going are left alone.
/// </summary>
public sealed class ScratchPostgres : IAsyncLifetime
{
    private const string Prefix = "oft";
    private const string ConfigRoot = "/etc/postgresql";

    private static readonly ProcessCommandRunner ProcessRunner = new();

    private PostgresCluster? cluster;

    internal static ICommandRunner Runner => ProcessRunner;

    internal PostgresCluster Cluster => cluster ?? throw new InvalidOperationException(SkipReason ?? "the scratch cluster was not created");

    internal Psql Psql => new(ProcessRunner, Cluster);

    /// <summary>Why the tests cannot run here (no postgresql-common); null when the cluster is up.</summary>
    internal string? SkipReason { get; private set; }

    public async ValueTask InitializeAsync()
    {
        if (!ProcessCommandRunner.IsOnPath("pg_createcluster"))
        {
            SkipReason = "pg_createcluster (postgresql-common) is not installed";
            return;
        }

        var ct = TestContext.Current.CancellationToken;
        await DropLeftoversAsync(ct);
        var version = InstalledVersion();
        var name = $"{Prefix}{Environment.ProcessId}x{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3))}";
        var port = FreePort();
        await RunAsync(
            "pg_createcluster",
            [version, name, "-p", port.ToString(CultureInfo.InvariantCulture), "--", "--auth-local=peer", "--auth-host=scram-sha-256"],
            ct);
        cluster = new PostgresCluster(version, name, port);
        await RunAsync("pg_ctlcluster", [version, name, "start"], ct);
    }

    public async ValueTask DisposeAsync()
    {
        if (cluster is { } c)
        {
            await RunAsync("pg_dropcluster", ["--stop", c.Version, c.Name], CancellationToken.None);
            DeleteConfigDirectory(c.Version, c.Name);
        }
    }

    /// <summary>One value from SQL run as postgres in the scratch cluster (test setup and assertions).</summary>
    internal async Task<string> ScalarAsync(string sql, CancellationToken ct, IReadOnlyDictionary<string, string>? variables = null)
    {
        var rows = await Psql.QueryAsync(sql, variables ?? new Dictionary<string, string>(), 1, ct);
        return rows.Count == 0 ? "" : rows[^1][0];
    }

    internal async Task ExecuteAsync(string sql, CancellationToken ct) =>
        await Psql.ExecuteAsync(sql, new Dictionary<string, string>(), ct);

    /// <summary>Runs resources through the real engine and returns the last one's result.</summary>
    internal static async Task<ResourceResult> ConvergeAsync(ConvergeMode mode, CancellationToken ct, params IResource[] resources)
    {
        var outcome = await new ConvergeEngine(TimeProvider.System, NullLogger<ConvergeEngine>.Instance).RunAsync(resources, mode, ct);
        return outcome.Results[^1];
    }

    /// <summary>A random suffix for names the tests create in the cluster (lowercase hex).</summary>
    internal static string Unique() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));

    private static async Task DropLeftoversAsync(CancellationToken ct)
    {
        var list = await RunAsync("pg_lsclusters", ["--no-header"], ct);
        foreach (var line in list.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 2 || !fields[1].StartsWith(Prefix, StringComparison.Ordinal) || IsOwnerAlive(fields[1]))
            {
                continue;
            }

            await RunAsync("pg_dropcluster", ["--stop", fields[0], fields[1]], ct);
            DeleteConfigDirectory(fields[0], fields[1]);
        }

        foreach (var directory in Directory.EnumerateDirectories(ConfigRoot, Prefix + "*", new EnumerationOptions { RecurseSubdirectories = true, MaxRecursionDepth = 1 }))
        {
            if (!IsOwnerAlive(Path.GetFileName(directory)) && !File.Exists(Path.Combine(directory, "postgresql.conf")))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    /// <summary>pg_dropcluster removes only the files it created; the ".previous" the agent keeps would stay behind.</summary>
    private static void DeleteConfigDirectory(string version, string name)
    {
        var directory = Path.Combine(ConfigRoot, version, name);
        if (Directory.Exists(directory))
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static bool IsOwnerAlive(string name)
    {
        var x = name.IndexOf('x', StringComparison.Ordinal);
        return x > Prefix.Length && int.TryParse(name[Prefix.Length..x], CultureInfo.InvariantCulture, out var pid) && Directory.Exists($"/proc/{pid}");
    }

    private static string InstalledVersion() =>
        Directory.GetDirectories("/usr/lib/postgresql")
            .Select(Path.GetFileName)
            .OfType<string>()
            .Where(v => int.TryParse(v, CultureInfo.InvariantCulture, out _))
            .OrderByDescending(v => int.Parse(v, CultureInfo.InvariantCulture))
            .First();

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task<string> RunAsync(string program, IReadOnlyList<string> arguments, CancellationToken ct)
    {
        var spec = new CommandSpec(program, arguments) { WorkingDirectory = "/", Timeout = TimeSpan.FromMinutes(2) };
        return (await ProcessRunner.RunCheckedAsync(spec, ct)).Stdout;
    }
}

[CollectionDefinition(Name)]
public sealed class ScratchPostgresGroup : ICollectionFixture<ScratchPostgres>
{
    public const string Name = "scratch PostgreSQL cluster";
}

/// <summary>Proves that validation happens before any program runs: every call is counted.</summary>
internal sealed class NothingMayRun : ICommandRunner
{
    public int Calls { get; private set; }

    public Task<CommandResult> RunAsync(CommandSpec spec, CancellationToken ct)
    {
        Calls++;
        return Task.FromResult(new CommandResult(1, "", "must not run", false));
    }
}
