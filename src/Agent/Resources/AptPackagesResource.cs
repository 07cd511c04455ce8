using System.Text.RegularExpressions;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;

namespace OdooFleet.Agent.Resources;

/// <summary>A named set of Debian packages that must be installed ("base", "odoo-build-deps").</summary>
internal sealed partial record AptPackagesSpec(string Name, IReadOnlyList<string> Packages)
{
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!NamePattern().IsMatch(Name))
        {
            errors.Add($"packages.name: '{Grammar.Printable(Name)}' must be lowercase letters, digits and '-' (at most 63); name the set like \"base\"");
        }

        if (Packages.Count == 0)
        {
            errors.Add($"packages[{Grammar.Printable(Name)}]: the set is empty; list at least one package or drop the set");
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < Packages.Count; i++)
        {
            var package = Packages[i];
            if (!Grammar.IsPackageName(package))
            {
                errors.Add($"packages[{Grammar.Printable(Name)}][{i}]: '{Grammar.Printable(package)}' is not a Debian package name "
                    + "(lowercase letters, digits, '+', '-', '.', at least 2 characters, optional ':arch'); fix the package list");
            }
            else if (!seen.Add(package))
            {
                errors.Add($"packages[{Grammar.Printable(Name)}][{i}]: '{package}' is listed twice; remove the duplicate");
            }
        }

        return errors;
    }

    [GeneratedRegex(@"^[a-z0-9][a-z0-9-]{0,62}\z")]
    private static partial Regex NamePattern();
}

/// <summary>
/// Installs the packages of a set that dpkg does not list as installed ("ii"); never removes or
/// upgrades anything (security upgrades are unattended-upgrades' job). `apt-get update` runs only
/// when it is needed: no package lists at all, or apt has no candidate for a wanted package.
/// Acts on the running system.
/// </summary>
internal sealed partial class AptPackagesResource : Resource<AptPackagesResource.Observed>
{
    /// <summary>How long apt waits for another apt/dpkg (e.g. apt-daily) to release its lock before failing.</summary>
    private const string LockTimeoutSeconds = "120";

    private readonly ICommandRunner runner;
    private readonly AptPackagesSpec spec;
    private readonly string listsDirectory;
    private readonly TimeSpan installTimeout;
    private readonly IReadOnlyList<string> packages;
    private readonly string dpkgJournalDirectory;

    public AptPackagesResource(
        ICommandRunner runner, AptPackagesSpec spec, string listsDirectory = "/var/lib/apt/lists", TimeSpan? installTimeout = null,
        string dpkgJournalDirectory = "/var/lib/dpkg/updates")
    {
        var errors = spec.Validate();
        if (errors.Count > 0)
        {
            throw new SpecValidationException(errors);
        }

        this.runner = runner;
        this.spec = spec;
        this.listsDirectory = listsDirectory;
        this.dpkgJournalDirectory = dpkgJournalDirectory;
        this.installTimeout = installTimeout ?? TimeSpan.FromMinutes(30);
        packages = [.. spec.Packages.Order(StringComparer.Ordinal)];
    }

    /// <param name="Missing">Wanted packages dpkg does not list as installed, with their dpkg status (null: dpkg never saw them).</param>
    /// <param name="JournalPending">dpkg's journal (/var/lib/dpkg/updates) has entries: a dpkg run was killed, possibly while
    /// unpacking a dependency nobody asked for; apt-get refuses to install anything until it is finished.</param>
    internal sealed record Observed(IReadOnlyDictionary<string, string?> Missing, bool JournalPending = false) : Observation
    {
        /// <summary>Some wanted package is mid-install, or dpkg's journal is not empty (a killed or failed dpkg run).</summary>
        public bool Interrupted => JournalPending || Missing.Values.Any(status => status is not null && IsInterrupted(status));
    }

    /// <param name="Interrupted">A package is unpacked or half-configured (a killed or failed dpkg run): finish that first.</param>
    private sealed record InstallChange(string Description, IReadOnlyList<string> Packages, bool Interrupted) : Change(Description);

    public override string Id => $"packages:{spec.Name}";

    public override string Kind => "packages";

    protected override async Task<Observed> ObserveTypedAsync(CancellationToken ct)
    {
        return new Observed(await MissingAsync(ct), DpkgJournalPending());
    }

    protected override Change? Diff(Observed observed, IReadOnlySet<string> changedDependencies)
    {
        if (observed.Missing.Count == 0)
        {
            return null;
        }

        var names = observed.Missing.Keys.Order(StringComparer.Ordinal).ToList();
        var interrupted = observed.Interrupted;
        return new InstallChange(
            $"{(interrupted ? "finish interrupted dpkg run, " : "")}install {string.Join(", ", names)}", names, interrupted);
    }

    public override async Task<string?> ApplyAsync(Change change, CancellationToken ct)
    {
        var plan = (InstallChange)change;
        var wanted = plan.Packages;
        if (plan.Interrupted)
        {
            // apt-get refuses to install anything until the interrupted run is configured.
            await runner.RunCheckedAsync(
                new CommandSpec("dpkg", ["--configure", "-a", "--force-confdef", "--force-confold"]) { Timeout = installTimeout, Environment = NonInteractive }, ct);
        }

        var updated = false;
        if (!HasPackageLists() || await AnyWithoutCandidateAsync(wanted, ct))
        {
            await UpdateAsync(ct);
            updated = true;
        }

        var install = Install(wanted);
        var result = await runner.RunAsync(install, ct);
        if (!result.Succeeded && !updated && !result.TimedOut && IsUnknownPackage(result))
        {
            // Lists older than the archive: a package moved or is new since the last update.
            await UpdateAsync(ct);
            updated = true;
            result = await runner.RunAsync(install, ct);
        }

        if (!result.Succeeded)
        {
            throw new CommandFailedException(result.Describe(install));
        }

        // A virtual package or a half-configured one installs "successfully" and stays missing.
        var stillMissing = await MissingAsync(ct);
        if (stillMissing.Count > 0)
        {
            throw new ResourceFailedException(
                $"apt-get install succeeded but dpkg does not list {string.Join(", ", stillMissing.Select(p => $"{p.Key} ({Why(p.Value)})"))} as installed; "
                + "name the real package instead of a virtual one, or run `dpkg --configure -a` if it is half-configured");
        }

        return $"installed {string.Join(", ", wanted)}{(updated ? " (after apt-get update)" : "")}";
    }

    /// <summary>Parses dpkg-query's "${Package}\t${db:Status-Abbrev}\t${Version}" lines: package to status (e.g. "ii", "rc").</summary>
    internal static IReadOnlyDictionary<string, string> ParseDpkgQuery(string stdout)
    {
        var statuses = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = line.Split('\t');
            if (fields.Length < 2)
            {
                continue;
            }

            // One line per installed architecture: any installed one counts.
            var status = fields[1].Trim();
            if (!statuses.TryGetValue(fields[0], out var known) || known != "ii")
            {
                statuses[fields[0]] = status;
            }
        }

        return statuses;
    }

    /// <summary>Packages of `apt-cache policy` output that have a candidate version; unknown packages are simply absent.</summary>
    internal static IReadOnlySet<string> ParseCandidates(string stdout)
    {
        var withCandidate = new HashSet<string>(StringComparer.Ordinal);
        string? current = null;
        foreach (var line in stdout.Split('\n'))
        {
            if (line.Length > 0 && !char.IsWhiteSpace(line[0]) && line.EndsWith(':'))
            {
                current = line[..^1];
            }
            else if (current is not null && line.Trim().StartsWith("Candidate:", StringComparison.Ordinal) && !line.TrimEnd().EndsWith("(none)", StringComparison.Ordinal))
            {
                withCandidate.Add(current);
            }
        }

        return withCandidate;
    }

    private static string Why(string? status) => status is null ? "not known to dpkg" : $"dpkg status '{status}'";

    /// <summary>Wanted packages dpkg does not list as installed, with their dpkg status (null: dpkg never saw them).</summary>
    private async Task<IReadOnlyDictionary<string, string?>> MissingAsync(CancellationToken ct)
    {
        var query = new CommandSpec("dpkg-query", ["-W", "-f=${Package}\t${db:Status-Abbrev}\t${Version}\n", "--", .. packages])
        {
            Timeout = TimeSpan.FromMinutes(1),
        };
        var result = await runner.RunAsync(query, ct);

        // Exit 1 with "no packages found matching X" on stderr is dpkg-query's answer for packages it never saw.
        var onlyUnknown = result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .All(line => NoPackagesFound().IsMatch(line));
        if (result.TimedOut || result.ExitCode is not (0 or 1) || (result.ExitCode == 1 && !onlyUnknown))
        {
            throw new CommandFailedException(result.Describe(query));
        }

        var statuses = ParseDpkgQuery(result.Stdout);
        var missing = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var package in packages)
        {
            // dpkg-query prints ${Package} without the ":arch" qualifier.
            var status = statuses.GetValueOrDefault(package.Split(':')[0]);
            if (status != "ii")
            {
                missing[package] = status;
            }
        }

        return missing;
    }

    /// <summary>True when apt has package lists at all (a fresh debootstrap or a cleaned image has none).</summary>
    private bool HasPackageLists() =>
        Directory.Exists(listsDirectory)
        && Directory.EnumerateFiles(listsDirectory).Any(file => PackagesListName().IsMatch(Path.GetFileName(file)) && new FileInfo(file).Length > 0);

    private async Task<bool> AnyWithoutCandidateAsync(IReadOnlyList<string> wanted, CancellationToken ct)
    {
        var policy = new CommandSpec("apt-cache", ["policy", "--", .. wanted]) { Timeout = TimeSpan.FromMinutes(2) };
        var result = await runner.RunCheckedAsync(policy, ct);
        var candidates = ParseCandidates(result.Stdout);
        return wanted.Any(package => !candidates.Contains(package));
    }

    private async Task UpdateAsync(CancellationToken ct) =>
        await runner.RunCheckedAsync(
            new CommandSpec("apt-get", ["update", "-o", $"DPkg::Lock::Timeout={LockTimeoutSeconds}"])
            {
                Timeout = TimeSpan.FromMinutes(10),
                Environment = NonInteractive,
            },
            ct);

    private CommandSpec Install(IReadOnlyList<string> wanted) =>
        new("apt-get",
        [
            "install", "-y", "--no-install-recommends",
            "-o", $"DPkg::Lock::Timeout={LockTimeoutSeconds}",
            "-o", "Dpkg::Options::=--force-confdef",
            "-o", "Dpkg::Options::=--force-confold",
            "--", .. wanted,
        ])
        {
            Timeout = installTimeout,
            Environment = NonInteractive,
        };

    /// <summary>dpkg's want/state abbreviation with an installed want but an unfinished state (iU unpacked, iF half-configured, iH half-installed, iW/it triggers).</summary>
    private bool DpkgJournalPending() =>
        Directory.Exists(dpkgJournalDirectory) && Directory.EnumerateFiles(dpkgJournalDirectory).Any();

    internal static bool IsInterrupted(string status) => status.Length >= 2 && status[0] == 'i' && status[1] is 'U' or 'F' or 'H' or 'W' or 't';

    private static bool IsUnknownPackage(CommandResult result) =>
        result.Stderr.Contains("Unable to locate package", StringComparison.Ordinal)
        || result.Stderr.Contains("has no installation candidate", StringComparison.Ordinal);

    /// <summary>
    /// No debconf questions; needrestart (Ubuntu) only lists services instead of restarting them,
    /// because restarts are the profile's and the controller's decision.
    /// </summary>
    private static readonly IReadOnlyDictionary<string, string> NonInteractive = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["DEBIAN_FRONTEND"] = "noninteractive",
        ["NEEDRESTART_MODE"] = "l",
    };

    [GeneratedRegex(@"^dpkg-query: no packages found matching \S+\z")]
    private static partial Regex NoPackagesFound();

    [GeneratedRegex(@"_Packages(\.(gz|xz|lz4|zst|bz2|lzma))?\z")]
    private static partial Regex PackagesListName();
}
