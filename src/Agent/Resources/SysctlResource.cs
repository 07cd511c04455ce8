using System.Text;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.IO;
using OdooFleet.Agent.Profiles;

namespace OdooFleet.Agent.Resources;

/// <summary>Kernel settings the fleet owns, e.g. net.core.somaxconn = 1024.</summary>
internal sealed record SysctlSpec(IReadOnlyDictionary<string, string> Settings)
{
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        foreach (var (key, value) in Settings.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            if (!Grammar.IsSysctlKey(key))
            {
                errors.Add($"sysctl: '{Grammar.Printable(key)}' is not a sysctl key (dotted lowercase names such as net.core.somaxconn; "
                    + "interface names containing '.' are not supported); fix the key");
            }
            else if (!Grammar.IsSysctlValue(value))
            {
                errors.Add($"sysctl.{key}: '{Grammar.Printable(value)}' is not a sysctl value (words of letters, digits and ._:,+- separated by single spaces); fix the value");
            }
        }

        return errors;
    }
}

/// <summary>
/// Live kernel settings plus /etc/sysctl.d/60-odoofleet.conf, which the agent owns, so they survive
/// a reboot. Live values are read and written under /proc/sys directly (key dots become slashes).
/// In a container only network-namespaced keys (net.*) are writable; any other key fails with a
/// message naming it. The file is written only once every live value took, so it never holds a
/// setting the kernel refused (systemd-sysctl would fail on it at every boot).
/// </summary>
internal sealed class SysctlResource : Resource<SysctlResource.Observed>
{
    public const string ConfPath = "/etc/sysctl.d/60-odoofleet.conf";

    private readonly HostPaths paths;
    private readonly string procSys;
    private readonly SortedDictionary<string, string> settings;
    private readonly byte[] content;

    /// <param name="procSys">Where the live keys are; /proc/sys except in tests of the decision logic.</param>
    public SysctlResource(HostPaths paths, SysctlSpec spec, string procSys = "/proc/sys")
    {
        var errors = spec.Validate();
        if (errors.Count > 0)
        {
            throw new SpecValidationException(errors);
        }

        this.paths = paths;
        this.procSys = procSys;
        settings = new SortedDictionary<string, string>(spec.Settings.ToDictionary(), StringComparer.Ordinal);
        content = Encoding.UTF8.GetBytes(Render(settings));
    }

    /// <param name="FileMatches">The file exists with exactly the rendered content and mode 0644.</param>
    /// <param name="Live">Each key's live value, whitespace-normalised; null when /proc/sys has no such key.</param>
    internal sealed record Observed(bool FileMatches, IReadOnlyDictionary<string, string?> Live) : Observation;

    private sealed record SysctlChange(string Description, IReadOnlyList<string> KeysToSet, bool WriteFile) : Change(Description);

    public override string Id => $"sysctl:{ConfPath}";

    public override string Kind => "sysctl";

    private string FullConfPath => paths.Resolve(ConfPath);

    /// <summary>"key = value" lines sorted by key, after a header; byte-stable.</summary>
    internal static string Render(IReadOnlyDictionary<string, string> settings)
    {
        var text = new StringBuilder("# Managed by odoofleet-agent: local changes are put back on the next converge.\n");
        foreach (var (key, value) in settings.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            text.Append(key).Append(" = ").Append(value).Append('\n');
        }

        return text.ToString();
    }

    protected override async Task<Observed> ObserveTypedAsync(CancellationToken ct)
    {
        var file = new FileInfo(FullConfPath);
        var fileMatches = file is { Exists: true, LinkTarget: null }
            && file.UnixFileMode == FileModes.Mode0644
            && (await File.ReadAllBytesAsync(FullConfPath, ct)).AsSpan().SequenceEqual(content);
        var live = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var key in settings.Keys)
        {
            live[key] = await ReadLiveAsync(key, ct);
        }

        return new Observed(fileMatches, live);
    }

    protected override Change? Diff(Observed observed, IReadOnlySet<string> changedDependencies)
    {
        var unknown = settings.Keys.Where(key => observed.Live[key] is null).ToList();
        if (unknown.Count > 0)
        {
            throw new ResourceFailedException(
                $"sysctl: {string.Join(", ", unknown)} not found under /proc/sys (a typo, or the kernel module is not loaded); fix or drop the key");
        }

        var toSet = settings.Where(s => observed.Live[s.Key] != Normalize(s.Value)).Select(s => s.Key).ToList();
        if (toSet.Count == 0 && observed.FileMatches)
        {
            return null;
        }

        var parts = toSet.Select(key => $"{key} {observed.Live[key]} -> {Normalize(settings[key])}").ToList();
        if (!observed.FileMatches)
        {
            parts.Add($"write {ConfPath}");
        }

        return new SysctlChange($"sysctl: {string.Join(", ", parts)}", toSet, !observed.FileMatches);
    }

    public override async Task<string?> ApplyAsync(Change change, CancellationToken ct)
    {
        var plan = (SysctlChange)change;
        var failures = new List<string>();
        foreach (var key in plan.KeysToSet)
        {
            var failure = await WriteLiveAsync(key, settings[key], ct);
            if (failure is not null)
            {
                failures.Add(failure);
            }
        }

        if (failures.Count > 0)
        {
            throw new ResourceFailedException(string.Join("; ", failures) + $" ({ConfPath} left as it was)");
        }

        if (plan.WriteFile)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(FullConfPath)!);
            await AtomicFile.WriteAsync(FullConfPath, content, FileModes.Mode0644, ct, keepPrevious: true);
        }

        return null;
    }

    private string LivePath(string key) => $"{procSys}/{key.Replace('.', '/')}";

    private async Task<string?> ReadLiveAsync(string key, CancellationToken ct)
    {
        var path = LivePath(key);
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            return Normalize(await File.ReadAllTextAsync(path, ct));
        }
        catch (UnauthorizedAccessException)
        {
            throw new ResourceFailedException($"sysctl {key}: {path} cannot be read (a write-only trigger such as vm.drop_caches, not a setting); drop the key");
        }
    }

    /// <summary>Writes one live value and reads it back; returns what went wrong, or null.</summary>
    private async Task<string?> WriteLiveAsync(string key, string value, CancellationToken ct)
    {
        var path = LivePath(key);
        FileStream stream;
        try
        {
            // Unbuffered: the value goes in one write(2), as sysctl(8) does; /proc/sys parses each write on its own.
            stream = new FileStream(path, new FileStreamOptions { Mode = FileMode.Open, Access = FileAccess.Write, Share = FileShare.ReadWrite, BufferSize = 0 });
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            return $"sysctl {key}: {path} is read-only here ({e.Message}); in a container only network-namespaced keys (net.*) can be set, "
                + "so set it on the host or drop it from the spec";
        }

        await using (stream)
        {
            try
            {
                await stream.WriteAsync(Encoding.ASCII.GetBytes(value + "\n"), ct);
            }
            catch (IOException e)
            {
                return $"sysctl {key}: the kernel refused '{value}' ({e.Message}); use a value it accepts";
            }
        }

        var now = await ReadLiveAsync(key, ct);
        return now == Normalize(value)
            ? null
            : $"sysctl {key}: the kernel took '{value}' but reads back '{now}' (clamped or rounded); use the value it accepts";
    }

    /// <summary>/proc/sys separates words with tabs and ends with a newline; compare words only.</summary>
    private static string Normalize(string value) =>
        string.Join(' ', value.Split([' ', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries));
}
