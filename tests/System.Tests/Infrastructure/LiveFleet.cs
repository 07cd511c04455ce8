using System.Text.Json;
using Npgsql;

namespace OdooFleet.SystemTests.Infrastructure;

/// <summary>
/// The whole system on this box, brought up by deploy/stack.sh exactly as the quickstart does:
/// PostgreSQL, RabbitMQ, two controller processes, the fixture Odoo source and four
/// systemd-nspawn test hosts (th1..th4) with enrolled agents. Note: it takes over (resets) a quickstart
/// environment running on the same machine.
/// </summary>
public sealed class LiveFleet : IAsyncLifetime
{
    public static readonly string[] HostNames = ["th1", "th2", "th3", "th4"];
    private static readonly TimeSpan UpTimeout = TimeSpan.FromMinutes(25);

    public static string RepoRoot { get; } = FindRepoRoot();

    public static string FixtureDir => "/var/lib/odoofleet/stack/fixture";

    public static string FixtureRepo => Path.Combine(FixtureDir, "odoo.git");

    public NpgsqlDataSource Db { get; private set; } = null!;

    public Dictionary<string, string> Secrets { get; } = [];

    public async ValueTask InitializeAsync()
    {
        // OF_REUSE_STACK=1 (developers iterating on one test class): the stack a previous run kept
        // with OF_KEEP_STACK=1 is used as it is.
        if (Environment.GetEnvironmentVariable("OF_REUSE_STACK") != "1")
        {
            await StackAsync(TimeSpan.FromMinutes(5), "down");
            await StackAsync(UpTimeout, "up", "--source", "fixture", "--hosts", HostNames.Length.ToString(global::System.Globalization.CultureInfo.InvariantCulture));
        }

        foreach (var line in await File.ReadAllLinesAsync("/etc/odoofleet/stack.env"))
        {
            var eq = line.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                Secrets[line[..eq]] = line[(eq + 1)..];
            }
        }

        Db = NpgsqlDataSource.Create($"Host=127.0.0.1;Username=odoofleet;Password={Secrets["OF_PG_PASSWORD"]};Database=odoofleet");
        await AllConvergedAsync(FirstConvergeTimeout);
    }

    /// <summary>
    /// A fresh host's first converge installs PostgreSQL, nginx, fail2ban and Odoo's venv through
    /// the (possibly cold) package cache, four hosts at once on two cores: every test class starts
    /// after it, not inside its own shorter deadline.
    /// </summary>
    private static readonly TimeSpan FirstConvergeTimeout = TimeSpan.FromMinutes(20);

    public static async Task AllConvergedAsync(TimeSpan deadline) =>
        await Eventually.UntilAsync(
            () => FleetJsonAsync("hosts"),
            hosts => HostNames.All(name => hosts.EnumerateArray().Any(h =>
                h.GetProperty("name").GetString() == name
                && h.GetProperty("desiredGeneration").GetInt64() > 0
                && h.GetProperty("appliedGeneration").GetInt64() == h.GetProperty("desiredGeneration").GetInt64())),
            deadline,
            $"{string.Join(", ", HostNames)} converged to their desired generations");

    public async ValueTask DisposeAsync()
    {
        if (Db is not null)
        {
            await Db.DisposeAsync();
        }

        if (Environment.GetEnvironmentVariable("OF_KEEP_STACK") != "1")
        {
            await StackAsync(TimeSpan.FromMinutes(5), "down");
        }
    }

    public static Task<ProcResult> StackAsync(TimeSpan timeout, params string[] args) =>
        Proc.CheckedAsync("bash", [Path.Combine(RepoRoot, "deploy/stack.sh"), .. args], timeout);

    public static Task<ProcResult> FleetAsync(params string[] args) =>
        Proc.RunAsync("/usr/local/bin/fleet", args, TimeSpan.FromMinutes(10));

    /// <summary>`fleet` with another API token (its own config file, mode 0600, removed afterwards).</summary>
    public static async Task<ProcResult> FleetWithTokenAsync(string apiToken, params string[] args)
    {
        var config = Path.Combine(Path.GetTempPath(), $"fleet-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(config, JsonSerializer.Serialize(new { controller = "http://127.0.0.1:7001", apiToken }));
        File.SetUnixFileMode(config, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        try
        {
            return await Proc.RunAsync("/usr/local/bin/fleet", args, TimeSpan.FromMinutes(2), environment: new() { ["FLEET_CONFIG"] = config });
        }
        finally
        {
            File.Delete(config);
        }
    }

    /// <summary>Secret values the tests made or saw (tokens, broker passwords): the secret scan looks for them in every log.</summary>
    public static IReadOnlyCollection<string> RememberedSecrets => remembered.Keys.ToArray();

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> remembered = new();

    public static void RememberSecret(string value)
    {
        if (value.Length >= 16)
        {
            remembered.TryAdd(value, true);
        }
    }

    public static async Task<JsonElement> FleetJsonAsync(params string[] args)
    {
        var r = await FleetAsync([.. args, "-o", "json"]);
        if (r.Stdout.Trim().Length == 0)
        {
            throw new InvalidOperationException($"fleet {string.Join(' ', args)} printed no JSON: {r.Describe()}");
        }

        using var doc = JsonDocument.Parse(r.Stdout);
        return doc.RootElement.Clone();
    }

    public static Task<ProcResult> OnHostAsync(string host, params string[] command) =>
        Proc.RunAsync("bash", [Path.Combine(RepoRoot, "tests/hosts/testhosts.sh"), "exec", host, "--", .. command], TimeSpan.FromMinutes(2));

    /// <summary>Adds a commit to the fixture's 18.0 branch (a "new Odoo commit") and returns its id.</summary>
    public static async Task<string> NewFixtureCommitAsync()
    {
        var r = await Proc.CheckedAsync(
            "bash", [Path.Combine(RepoRoot, "tests/fixture/make-fixture-odoo.sh"), "commit", FixtureDir, "18.0", "--bump", "base"], TimeSpan.FromMinutes(1));
        return r.Stdout.Trim().Split('\n')[^1].Trim();
    }

    public static async Task<string> HeadOf18Async()
    {
        var r = await Proc.CheckedAsync("git", ["--git-dir", FixtureRepo, "rev-parse", "refs/heads/18.0"], TimeSpan.FromSeconds(30));
        return r.Stdout.Trim();
    }

    private static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "OdooFleet.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("cannot find the repository root (OdooFleet.sln) above " + AppContext.BaseDirectory);
    }
}

[CollectionDefinition(Name)]
public sealed class StackGroup : ICollectionFixture<LiveFleet>
{
    public const string Name = "stack";
}
