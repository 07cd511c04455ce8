using System.Security.Cryptography;
using System.Text;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.IO;
using OdooFleet.Agent.Profiles;

namespace OdooFleet.Agent.Resources;

/// <summary>
/// A release's Python virtualenv: where, from which wheels, owned by whom.
/// <see cref="Wheelhouse"/> null installs from the package index of the host's pip configuration
/// (/etc/pip.conf, e.g. a mirror); a directory installs offline from it alone (--no-index --find-links).
/// </summary>
internal sealed record VenvSpec(string ReleaseDir)
{
    public string? Wheelhouse { get; init; }

    /// <summary>Install offline from the release's own "wheelhouse/" when it has one (an artifact built with its wheels); it wins over <see cref="Wheelhouse"/>.</summary>
    public bool UseReleaseWheelhouse { get; init; }

    public string ReleaseWheelhouse => $"{ReleaseDir}/wheelhouse";

    /// <summary>Owner of the venv; the build runs as this user (runuser), so no package's build code runs as root.</summary>
    public Ownership? Owner { get; init; }

    /// <summary>The distribution's interpreter: PEP 668 forbids its system pip, a venv from it is the way (SEED-ERRATA #19).</summary>
    public string Python { get; init; } = "/usr/bin/python3";

    public TimeSpan InstallTimeout { get; init; } = TimeSpan.FromMinutes(30);

    public string VenvDir => $"{ReleaseDir}/.venv";

    public string RequirementsFile => $"{ReleaseDir}/requirements.txt";

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!Grammar.IsSafeAbsolutePath(ReleaseDir) || ReleaseDir == "/")
        {
            errors.Add($"venv.release_dir: '{Grammar.Printable(ReleaseDir)}' is not a safe absolute path (letters, digits and ._+@:/- only, no '..'); fix the release layout");
        }

        if (Wheelhouse is not null && !Grammar.IsSafeAbsolutePath(Wheelhouse))
        {
            errors.Add($"odoo.wheelhouse: '{Grammar.Printable(Wheelhouse)}' is not a safe absolute path (letters, digits and ._+@:/- only, no '..'); fix the host's wheelhouse setting");
        }

        if (Owner is { } owner && (!Grammar.IsUnixName(owner.Owner) || !Grammar.IsUnixName(owner.Group)))
        {
            errors.Add($"venv.owner: '{Grammar.Printable(owner.ToString())}' is not user:group of system names (^[a-z_][a-z0-9_-]{{0,31}}$); fix the layout's user and group");
        }

        if (!Grammar.IsSafeAbsolutePath(Python))
        {
            errors.Add($"venv.python: '{Grammar.Printable(Python)}' is not a safe absolute path to an interpreter; use /usr/bin/python3");
        }

        if (InstallTimeout <= TimeSpan.Zero)
        {
            errors.Add($"venv.install_timeout: {InstallTimeout} is not positive; give pip time to install (minutes)");
        }

        return errors;
    }
}

/// <summary>
/// A virtualenv at &lt;release&gt;/.venv with the release's requirements.txt installed. A marker file in the venv
/// records what was installed (sha256 of requirements.txt, index or wheelhouse, Python X.Y); a missing or
/// different marker, or an interpreter that no longer runs or changed version, means rebuild.
/// <para>
/// Built in a staging directory beside it and renamed into place, so a half-built venv is never used under its
/// real name. Venvs are not relocatable: the staging path that venv and pip write into bin/ scripts and
/// pyvenv.cfg is rewritten to the real path before the rename, and pip installs with --no-compile so no .pyc
/// carries the staging path into tracebacks (Odoo, running as the owner, compiles them on first import).
/// </para>
/// <para>
/// No --system-site-packages: requirements.txt pins exact versions, so Debian's python3-* packages rarely
/// satisfy them, and if they did, an apt upgrade would silently change what a release runs while the marker
/// still matched. Offline hosts use a wheelhouse instead.
/// </para>
/// </summary>
internal sealed class VenvResource : Resource<VenvResource.Observed>
{
    internal const string StagingPrefix = ".venv-staging-";
    internal const string MarkerName = ".odoofleet-venv";

    private readonly HostPaths paths;
    private readonly ICommandRunner runner;
    private readonly VenvSpec spec;

    public VenvResource(HostPaths paths, ICommandRunner runner, VenvSpec spec)
    {
        var errors = spec.Validate();
        if (errors.Count > 0)
        {
            throw new SpecValidationException(errors);
        }

        this.paths = paths;
        this.runner = runner;
        this.spec = spec;
    }

    internal sealed record Observed(
        string? RequirementsSha256,
        bool WheelhouseExists,
        bool VenvExists,
        string? Marker,
        string? PythonVersion,
        string? PythonError,
        Ownership? Owner,
        IReadOnlyList<string> StaleStaging) : Observation;

    public override string Id => $"venv:{spec.VenvDir}";

    public override string Kind => "venv";

    private string FullReleaseDir => paths.Resolve(spec.ReleaseDir);

    private string FullVenvDir => paths.Resolve(spec.VenvDir);

    /// <summary>Where the wheels come from now: the release's wheelhouse appears only once the release is unpacked.</summary>
    private string? Wheelhouse =>
        spec.UseReleaseWheelhouse && Directory.Exists(paths.Resolve(spec.ReleaseWheelhouse)) ? spec.ReleaseWheelhouse : spec.Wheelhouse;

    private string Source => Wheelhouse is { } wheelhouse ? $"wheelhouse {wheelhouse}" : "index";

    protected override async Task<Observed> ObserveTypedAsync(CancellationToken ct)
    {
        var stale = Directory.Exists(FullReleaseDir)
            ? Directory.GetDirectories(FullReleaseDir, StagingPrefix + "*").Order(StringComparer.Ordinal).ToList()
            : [];
        var requirements = paths.Resolve(spec.RequirementsFile);
        var sha = File.Exists(requirements) ? Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(requirements, ct))) : null;
        var wheelhouse = Wheelhouse is not { } wanted || Directory.Exists(paths.Resolve(wanted));
        var venv = new DirectoryInfo(FullVenvDir);
        if (!venv.Exists || venv.LinkTarget is not null)
        {
            return new Observed(sha, wheelhouse, false, null, null, null, null, stale);
        }

        var markerPath = Path.Combine(FullVenvDir, MarkerName);
        var marker = File.Exists(markerPath) ? await File.ReadAllTextAsync(markerPath, ct) : null;
        var (version, error) = await PythonVersionAsync(FullVenvDir, ct);
        var owner = spec.Owner is null ? null : await Ownership.ReadAsync(runner, FullVenvDir, ct);
        return new Observed(sha, wheelhouse, true, marker, version, error, owner, stale);
    }

    protected override Change? Diff(Observed observed, IReadOnlySet<string> changedDependencies)
    {
        EnsureInstallable(observed);
        var parts = new List<string>();
        var rebuild = RebuildReason(observed);
        if (rebuild is not null)
        {
            parts.Add(rebuild);
        }
        else if (spec.Owner is { } owner && observed.Owner != owner)
        {
            parts.Add($"owner {observed.Owner} -> {owner}");
        }

        if (observed.StaleStaging.Count > 0)
        {
            parts.Add($"remove {observed.StaleStaging.Count} stale staging dir(s)");
        }

        return parts.Count == 0 ? null : new Change(string.Join("; ", parts));
    }

    public override async Task<string?> ApplyAsync(Change change, CancellationToken ct)
    {
        var observed = await ObserveTypedAsync(ct);
        EnsureInstallable(observed);
        foreach (var stale in observed.StaleStaging)
        {
            Directory.Delete(stale, recursive: true);
        }

        if (RebuildReason(observed) is null)
        {
            if (spec.Owner is { } owner && observed.Owner != owner)
            {
                await runner.RunCheckedAsync(new CommandSpec("chown", ["--recursive", "--no-dereference", "--", owner.ToString(), FullVenvDir]), ct);
            }

            return null;
        }

        var staging = Path.Combine(FullReleaseDir, StagingPrefix + AtomicFile.RandomSuffix());
        try
        {
            await BuildAsync(staging, observed.RequirementsSha256!, ct);
            if (Directory.Exists(FullVenvDir) || File.Exists(FullVenvDir))
            {
                // An outdated or broken venv under the real name: swap it out, then delete it.
                var trash = Path.Combine(FullReleaseDir, $"{StagingPrefix}trash-{AtomicFile.RandomSuffix()}");
                Native.Rename(FullVenvDir, trash);
                Native.Rename(staging, FullVenvDir);
                DeletePath(trash);
            }
            else
            {
                Native.Rename(staging, FullVenvDir);
            }

            Native.FsyncDirectory(FullReleaseDir);
        }
        finally
        {
            if (Directory.Exists(staging))
            {
                Directory.Delete(staging, recursive: true);
            }
        }

        return null;
    }

    private void EnsureInstallable(Observed observed)
    {
        if (observed.RequirementsSha256 is null)
        {
            throw new ResourceFailedException($"{spec.RequirementsFile} does not exist; the release must ship Odoo's requirements.txt");
        }

        if (!observed.WheelhouseExists)
        {
            throw new ResourceFailedException($"wheelhouse {Wheelhouse} does not exist; copy the wheels there or unset the host's wheelhouse to use the package index");
        }
    }

    private string? RebuildReason(Observed observed)
    {
        if (!observed.VenvExists)
        {
            return $"create venv {spec.VenvDir} and install {spec.RequirementsFile} from {Source}";
        }

        if (observed.PythonError is { } error)
        {
            return $"rebuild {spec.VenvDir}: its python does not run ({error})";
        }

        if (observed.Marker is null)
        {
            return $"rebuild {spec.VenvDir}: no install marker (an interrupted or foreign venv)";
        }

        var recorded = ParseMarker(observed.Marker);
        var wanted = MarkerFields(observed.RequirementsSha256!, observed.PythonVersion!);
        var differences = wanted
            .Where(field => recorded.GetValueOrDefault(field.Key) != field.Value)
            .Select(field => $"{field.Key} {recorded.GetValueOrDefault(field.Key, "(none)")} -> {field.Value}")
            .ToList();
        return differences.Count == 0 ? null : $"rebuild {spec.VenvDir}: {string.Join(", ", differences)}";
    }

    private async Task BuildAsync(string staging, string requirementsSha256, CancellationToken ct)
    {
        Directory.CreateDirectory(staging);
        if (spec.Owner is { } owner)
        {
            await owner.ApplyAsync(runner, staging, ct);
        }

        // --prompt: activate scripts would otherwise show the staging directory's name.
        var prompt = Path.GetFileName(spec.ReleaseDir);
        await RunAsync(new CommandSpec(spec.Python, ["-m", "venv", "--prompt", prompt, "--", staging]) { Timeout = TimeSpan.FromMinutes(5) }, ct);
        List<string> install =
        [
            "-m", "pip", "install",
            // --isolated: ignore PIP_* variables and per-user config of whoever runs the agent; /etc/pip.conf still applies.
            "--isolated", "--no-input", "--disable-pip-version-check", "--no-cache-dir", "--no-compile",
            "--requirement", paths.Resolve(spec.RequirementsFile),
        ];
        if (Wheelhouse is { } wheelhouse)
        {
            install.AddRange(["--no-index", "--find-links", paths.Resolve(wheelhouse)]);
        }

        await RunAsync(new CommandSpec(Path.Combine(staging, "bin", "python"), install) { Timeout = spec.InstallTimeout }, ct);
        var (version, error) = await PythonVersionAsync(staging, ct);
        if (version is null)
        {
            throw new ResourceFailedException($"the new venv's python does not run ({error}); check {spec.Python}");
        }

        RewriteStagingPath(staging);
        var marker = new StringBuilder("# Managed by odoofleet-agent: what was installed into this venv; a difference means rebuild.\n");
        foreach (var (key, value) in MarkerFields(requirementsSha256, version))
        {
            marker.Append(key).Append(" = ").Append(value).Append('\n');
        }

        var markerPath = Path.Combine(staging, MarkerName);
        await File.WriteAllTextAsync(markerPath, marker.ToString(), ct);
        if (spec.Owner is { } markerOwner)
        {
            await markerOwner.ApplyAsync(runner, markerPath, ct);
        }
    }

    private async Task RunAsync(CommandSpec command, CancellationToken ct)
    {
        var result = await runner.RunAsync(spec.Owner is { } owner ? command.AsUser(owner.Owner) : command, ct);
        if (!result.Succeeded)
        {
            throw new ResourceFailedException($"building {spec.VenvDir} failed (nothing was replaced): {result.Describe(command)}");
        }
    }

    /// <summary>Replaces the staging directory's path with the real one in bin/ scripts and pyvenv.cfg (text files only, symlinks untouched).</summary>
    private void RewriteStagingPath(string staging)
    {
        var strict = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
        var files = Directory.GetFiles(Path.Combine(staging, "bin")).Append(Path.Combine(staging, "pyvenv.cfg"));
        foreach (var file in files.Where(f => new FileInfo(f) is { Exists: true, LinkTarget: null }))
        {
            var bytes = File.ReadAllBytes(file);
            string text;
            try
            {
                text = strict.GetString(bytes);
            }
            catch (DecoderFallbackException)
            {
                continue; // A binary program: it embeds no venv path we could safely change.
            }

            if (!text.Contains('\0', StringComparison.Ordinal) && text.Contains(staging, StringComparison.Ordinal))
            {
                // Rewritten in place: owner and mode stay as venv and pip made them.
                File.WriteAllText(file, text.Replace(staging, FullVenvDir, StringComparison.Ordinal), strict);
            }
        }
    }

    private async Task<(string? Version, string? Error)> PythonVersionAsync(string venv, CancellationToken ct)
    {
        // -I -B: no site directories of the caller, no .pyc written: observing changes nothing.
        var command = new CommandSpec(Path.Combine(venv, "bin", "python"), ["-I", "-B", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        {
            Timeout = TimeSpan.FromSeconds(30),
        };
        var result = await runner.RunAsync(command, ct);
        var version = result.Stdout.Trim();
        return result.Succeeded && version.Length > 0 ? (version, null) : (null, result.Describe(command));
    }

    private List<KeyValuePair<string, string>> MarkerFields(string requirementsSha256, string pythonVersion) =>
    [
        new("requirements-sha256", requirementsSha256),
        new("source", Source),
        new("python", pythonVersion),
    ];

    private static Dictionary<string, string> ParseMarker(string text)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            var eq = line.IndexOf(" = ", StringComparison.Ordinal);
            if (eq > 0 && !line.StartsWith('#'))
            {
                fields[line[..eq]] = line[(eq + 3)..];
            }
        }

        return fields;
    }

    private static void DeletePath(string path)
    {
        if (Directory.Exists(path) && new DirectoryInfo(path).LinkTarget is null)
        {
            Directory.Delete(path, recursive: true);
        }
        else
        {
            File.Delete(path);
        }
    }
}
