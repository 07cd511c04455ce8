using Microsoft.Extensions.Logging.Abstractions;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Resources;

namespace OdooFleet.Agent.Tests.Resources;

/// <summary>
/// The package resource's decisions (when to update, what to install, how dpkg's answers are read)
/// with apt and dpkg answering as they did on a Debian 12 host: installing packages on this box is
/// not a test's to do; test hosts cover the real install.
/// </summary>
public sealed class AptPackagesResourceTests
{
    // Captured on Debian 12 (dpkg 1.21, apt 2.6).
    private const string DpkgNginxInstalled = "nginx\tii \t1.22.1-9+deb12u11\n";
    private const string DpkgUfwInstalled = "nginx\tii \t1.22.1-9+deb12u11\nufw\tii \t0.36.2-1\n";
    private const string DpkgNoUfw = "dpkg-query: no packages found matching ufw\n";
    private const string PolicyUfw = """
        ufw:
          Installed: (none)
          Candidate: 0.36.2-1
          Version table:
             0.36.2-1 500
                500 http://deb.debian.org/debian bookworm/main amd64 Packages

        """;

    private const string PolicyNoCandidate = """
        mail-transport-agent:
          Installed: (none)
          Candidate: (none)
          Version table:

        """;

    private const string UnableToLocate = "E: Unable to locate package ufw\n";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static CommandResult Ok(string stdout = "") => new(0, stdout, "", false);

    private static CommandResult Exit(int code, string stdout, string stderr) => new(code, stdout, stderr, false);

    /// <summary>A lists directory as apt leaves it after an update (Debian compresses them with lz4 in images).</summary>
    private static TempDirectory ListsWithPackages()
    {
        var lists = new TempDirectory();
        File.WriteAllText(lists.Combine("deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4"), "x");
        File.WriteAllText(lists.Combine("lock"), "");
        return lists;
    }

    private static async Task<ResourceResult> ConvergeAsync(ScriptedCommandRunner runner, string lists, ConvergeMode mode = ConvergeMode.Apply, params string[] packages)
    {
        using var journal = new TempDirectory();
        return await ConvergeAsync(runner, lists, journal.Path, mode, packages);
    }

    private static async Task<ResourceResult> ConvergeAsync(ScriptedCommandRunner runner, string lists, string dpkgJournal, ConvergeMode mode, params string[] packages)
    {
        var resource = new AptPackagesResource(
            runner, new AptPackagesSpec("base", packages.Length > 0 ? packages : ["ufw", "nginx"]), lists, dpkgJournalDirectory: dpkgJournal);
        var outcome = await new ConvergeEngine(TimeProvider.System, NullLogger<ConvergeEngine>.Instance).RunAsync([resource], mode, Ct);
        return outcome.Results[0];
    }

    private static List<string> Programs(ScriptedCommandRunner runner) =>
        runner.Commands.Select(c => c.Program == "apt-get" || c.Program == "apt-cache" ? $"{c.Program} {c.Arguments[0]}" : c.Program).ToList();

    [Fact]
    public async Task Converge_AllInstalled_UnchangedWithoutApt()
    {
        using var lists = ListsWithPackages();
        var runner = new ScriptedCommandRunner().On("dpkg-query", DpkgUfwInstalled);

        var result = await ConvergeAsync(runner, lists.Path);

        Assert.Equal(ResourceStatus.Unchanged, result.Status);
        Assert.Equal(["dpkg-query"], Programs(runner));
    }

    [Fact]
    public async Task Converge_MissingWithListsAndCandidate_InstallsWithoutUpdate()
    {
        using var lists = ListsWithPackages();
        var runner = new ScriptedCommandRunner()
            .On("dpkg-query", Exit(1, DpkgNginxInstalled, DpkgNoUfw), Ok(DpkgUfwInstalled))
            .On("apt-cache policy", PolicyUfw)
            .On("apt-get install", "");

        var result = await ConvergeAsync(runner, lists.Path);

        Assert.Equal(ResourceStatus.Changed, result.Status);
        Assert.Equal("installed ufw", result.Message);
        Assert.Equal(["dpkg-query", "apt-cache policy", "apt-get install", "dpkg-query"], Programs(runner));
        var install = runner.Commands[2];
        Assert.Equal(
            ["install", "-y", "--no-install-recommends", "-o", "DPkg::Lock::Timeout=120", "-o", "Dpkg::Options::=--force-confdef",
             "-o", "Dpkg::Options::=--force-confold", "--", "ufw"],
            install.Arguments);
        Assert.Equal("noninteractive", install.Environment["DEBIAN_FRONTEND"]);
        Assert.True(install.Timeout >= TimeSpan.FromMinutes(10));
        Assert.Equal(["-W", "-f=${Package}\t${db:Status-Abbrev}\t${Version}\n", "--", "nginx", "ufw"], runner.Commands[0].Arguments);
    }

    [Fact]
    public async Task Converge_HalfConfiguredPackage_FinishesTheInterruptedDpkgRunFirst()
    {
        using var lists = ListsWithPackages();
        var runner = new ScriptedCommandRunner()
            .On("dpkg-query", Ok("nginx\tii \t1.22.1-9+deb12u11\nufw\tiF \t0.36.2-1\n"), Ok(DpkgUfwInstalled))
            .On("dpkg --configure", "")
            .On("apt-cache policy", PolicyUfw)
            .On("apt-get install", "");

        var result = await ConvergeAsync(runner, lists.Path);

        Assert.Equal(ResourceStatus.Changed, result.Status);
        Assert.Equal(["dpkg-query", "dpkg", "apt-cache policy", "apt-get install", "dpkg-query"], Programs(runner));
        Assert.Equal(["--configure", "-a", "--force-confdef", "--force-confold"], runner.Commands[1].Arguments);
    }

    [Fact]
    public async Task Converge_DpkgJournalNotEmpty_FinishesTheInterruptedDpkgRunFirst()
    {
        // A dpkg run killed while unpacking a dependency: the wanted packages look merely missing,
        // but apt-get says "dpkg was interrupted" until `dpkg --configure -a` ran.
        using var lists = ListsWithPackages();
        using var journal = new TempDirectory();
        File.WriteAllText(journal.Combine("0001"), "");
        var runner = new ScriptedCommandRunner()
            .On("dpkg-query", Exit(1, DpkgNginxInstalled, DpkgNoUfw), Ok(DpkgUfwInstalled))
            .On("dpkg --configure", "")
            .On("apt-cache policy", PolicyUfw)
            .On("apt-get install", "");

        var result = await ConvergeAsync(runner, lists.Path, journal.Path, ConvergeMode.Apply);

        Assert.Equal(ResourceStatus.Changed, result.Status);
        Assert.Equal(["dpkg-query", "dpkg", "apt-cache policy", "apt-get install", "dpkg-query"], Programs(runner));
        Assert.Equal(["--configure", "-a", "--force-confdef", "--force-confold"], runner.Commands[1].Arguments);
    }

    [Theory]
    [InlineData("iF", true)]
    [InlineData("iU", true)]
    [InlineData("iH", true)]
    [InlineData("ii", false)]
    [InlineData("rc", false)]
    [InlineData("un", false)]
    public void IsInterrupted_DpkgStatus(string status, bool interrupted) =>
        Assert.Equal(interrupted, AptPackagesResource.IsInterrupted(status));

    [Fact]
    public async Task Converge_NoPackageLists_UpdatesFirst()
    {
        using var lists = new TempDirectory();
        File.WriteAllText(lists.Combine("lock"), "");
        var runner = new ScriptedCommandRunner()
            .On("dpkg-query", Exit(1, DpkgNginxInstalled, DpkgNoUfw), Ok(DpkgUfwInstalled))
            .On("apt-get update", "")
            .On("apt-get install", "");

        var result = await ConvergeAsync(runner, lists.Path);

        Assert.Equal(ResourceStatus.Changed, result.Status);
        Assert.Equal("installed ufw (after apt-get update)", result.Message);
        Assert.Equal(["dpkg-query", "apt-get update", "apt-get install", "dpkg-query"], Programs(runner));
        Assert.Equal(["update", "-o", "DPkg::Lock::Timeout=120"], runner.Commands[1].Arguments);
    }

    [Theory]
    [InlineData(PolicyNoCandidate)]
    [InlineData("")]
    public async Task Converge_NoCandidateInPolicy_UpdatesThenInstalls(string policy)
    {
        using var lists = ListsWithPackages();
        var runner = new ScriptedCommandRunner()
            .On("dpkg-query", Exit(1, DpkgNginxInstalled, DpkgNoUfw), Ok(DpkgUfwInstalled))
            .On("apt-cache policy", policy)
            .On("apt-get update", "")
            .On("apt-get install", "");

        await ConvergeAsync(runner, lists.Path);

        Assert.Equal(["dpkg-query", "apt-cache policy", "apt-get update", "apt-get install", "dpkg-query"], Programs(runner));
    }

    [Fact]
    public async Task Converge_InstallCannotLocatePackage_UpdatesOnceAndRetries()
    {
        using var lists = ListsWithPackages();
        var runner = new ScriptedCommandRunner()
            .On("dpkg-query", Exit(1, DpkgNginxInstalled, DpkgNoUfw), Ok(DpkgUfwInstalled))
            .On("apt-cache policy", PolicyUfw)
            .On("apt-get install", Exit(100, "Reading package lists...\n", UnableToLocate), Ok())
            .On("apt-get update", "");

        var result = await ConvergeAsync(runner, lists.Path);

        Assert.Equal(ResourceStatus.Changed, result.Status);
        Assert.Equal(["dpkg-query", "apt-cache policy", "apt-get install", "apt-get update", "apt-get install", "dpkg-query"], Programs(runner));
    }

    [Fact]
    public async Task Converge_InstallFailsForAnotherReason_FailsWithoutUpdate()
    {
        using var lists = ListsWithPackages();
        var runner = new ScriptedCommandRunner()
            .On("dpkg-query", Exit(1, DpkgNginxInstalled, DpkgNoUfw))
            .On("apt-cache policy", PolicyUfw)
            .On("apt-get install", Exit(100, "", "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 4242 (apt-get)\n"));

        var result = await ConvergeAsync(runner, lists.Path);

        Assert.Equal(ResourceStatus.Failed, result.Status);
        Assert.Contains("Could not get lock", result.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("apt-get update", Programs(runner));
    }

    [Fact]
    public async Task Converge_StillMissingAfterInstall_FailsNamingThePackage()
    {
        using var lists = ListsWithPackages();
        var runner = new ScriptedCommandRunner()
            .On("dpkg-query", Exit(1, "", "dpkg-query: no packages found matching mail-transport-agent\n"))
            .On("apt-cache policy", "mail-transport-agent:\n  Installed: (none)\n  Candidate: 1.0\n")
            .On("apt-get install", "");

        var result = await ConvergeAsync(runner, lists.Path, ConvergeMode.Apply, "mail-transport-agent");

        Assert.Equal(ResourceStatus.Failed, result.Status);
        Assert.Contains("mail-transport-agent (not known to dpkg)", result.Message, StringComparison.Ordinal);
        Assert.Contains("virtual", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_Missing_ReportsWouldInstallAndRunsOnlyDpkgQuery()
    {
        using var lists = ListsWithPackages();
        var runner = new ScriptedCommandRunner().On("dpkg-query", Exit(1, DpkgNginxInstalled, DpkgNoUfw));

        var result = await ConvergeAsync(runner, lists.Path, ConvergeMode.Check);

        Assert.Equal("would install ufw", result.Message);
        Assert.Equal(["dpkg-query"], Programs(runner));
    }

    [Fact]
    public async Task Observe_DpkgQueryFailsOtherwise_Fails()
    {
        using var lists = ListsWithPackages();
        var runner = new ScriptedCommandRunner().On("dpkg-query", Exit(2, "", "dpkg-query: error: parsing file '/var/lib/dpkg/status' near line 7\n"));

        var result = await ConvergeAsync(runner, lists.Path);

        Assert.Equal(ResourceStatus.Failed, result.Status);
        Assert.Contains("parsing file", result.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("nginx\tii \t1.22.1-9+deb12u11\n", "nginx", "ii")]
    [InlineData("ufw\trc \t0.36.2-1\n", "ufw", "rc")]
    [InlineData("ufw\tiU \t0.36.2-1\n", "ufw", "iU")]
    [InlineData("ufw\tun \t\n", "ufw", "un")]
    [InlineData("libfoo\trc \t1\nlibfoo\tii \t1\n", "libfoo", "ii")]
    public void ParseDpkgQuery_Line_Status(string stdout, string package, string status) =>
        Assert.Equal(status, AptPackagesResource.ParseDpkgQuery(stdout)[package]);

    [Fact]
    public void ParseCandidates_RealPolicyOutput_OnlyPackagesWithCandidate()
    {
        var candidates = AptPackagesResource.ParseCandidates(PolicyUfw + PolicyNoCandidate);
        Assert.Equal(["ufw"], candidates);
    }

    [Theory]
    [InlineData("base", new[] { "Nginx" }, "packages[base][0]: 'Nginx' is not a Debian package name")]
    [InlineData("base", new[] { "nginx; rm -rf /" }, "is not a Debian package name")]
    [InlineData("base", new[] { "-o" }, "is not a Debian package name")]
    [InlineData("base", new[] { "nginx", "nginx" }, "packages[base][1]: 'nginx' is listed twice")]
    [InlineData("base", new string[0], "packages[base]: the set is empty")]
    [InlineData("Base Set", new[] { "nginx" }, "packages.name: 'Base Set' must be lowercase")]
    public void Constructor_BadSpec_ThrowsNamingTheField(string name, string[] packages, string expected)
    {
        var e = Assert.Throws<SpecValidationException>(() => new AptPackagesResource(new ScriptedCommandRunner(), new AptPackagesSpec(name, packages)));
        Assert.Contains(e.Errors, error => error.Contains(expected, StringComparison.Ordinal));
    }
}
