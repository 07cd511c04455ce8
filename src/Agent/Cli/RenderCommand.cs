using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using OdooFleet.Agent.Configuration;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Facts;
using OdooFleet.Agent.IO;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Transport;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Agent.Cli;

/// <summary>
/// `render`: writes every file the profile would manage under --out DIR at its absolute path
/// (DIR/etc/odoo.conf, ...), secrets blanked, and prints the sizing arithmetic. It compiles the
/// same profile a converge does, from this machine's facts unless overridden, and touches nothing
/// outside DIR: for people who review before they apply.
/// </summary>
internal static partial class RenderCommand
{
    public static async Task<int> RunAsync(ParsedArgs args, CancellationToken ct)
    {
        var outDir = args.Value("out") ?? throw new UsageException("render needs --out DIR (where the files are written)");
        var facts = FactCollector.ProfileFacts();
        if (args.Value("cores") is { } cores)
        {
            facts = facts with
            {
                CpuCores = int.TryParse(cores, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= 4096
                    ? n
                    : throw new UsageException($"--cores: '{Grammar.Printable(cores)}' must be a whole number of CPU cores (1-4096)"),
            };
        }

        if (args.Value("memory") is { } memory)
        {
            facts = facts with { MemoryBytes = ParseSize(memory) };
        }

        if (args.Value("os") is { } osRelease)
        {
            var colon = osRelease.IndexOf(':', StringComparison.Ordinal);
            facts = colon > 0
                ? facts with { OsId = osRelease[..colon], OsVersion = osRelease[(colon + 1)..] }
                : throw new UsageException($"--os: '{Grammar.Printable(osRelease)}' must look like debian:12 or ubuntu:24.04");
        }

        var spec = await LoadSpecAsync(args, ct);
        var domains = args.Values("domain");
        if (domains.Count > 0)
        {
            spec.Web ??= new WebSpec();
            spec.Web.Domains.Clear();
            spec.Web.Domains.Add(domains);
        }

        var host = spec.ToDomain();
        using var http = new HttpClient();
        var environment = new ProfileEnvironment(new HostPaths("/"), new ProcessCommandRunner(), http, TimeProvider.System, () => facts);
        CompiledProfile profile;
        try
        {
            profile = OdooProfile.Compile(host, environment, persistSecrets: false);
        }
        catch (SpecValidationException e)
        {
            foreach (var error in e.Errors)
            {
                await Console.Error.WriteLineAsync($"error: {error}");
            }

            return ExitCodes.ConfigInvalid;
        }

        var root = Path.GetFullPath(outDir);
        foreach (var file in profile.Files)
        {
            var target = Path.Join(root, file.Path);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            await AtomicFile.WriteAsync(target, Encoding.UTF8.GetBytes(file.Content), file.Mode, ct);
        }

        Console.WriteLine($"# {facts.Hostname}: {facts.OsId} {facts.OsVersion}, {facts.CpuCores} cores, {facts.MemoryBytes / (1L << 20)} MiB RAM");
        foreach (var line in profile.Explanation)
        {
            Console.WriteLine("# " + line);
        }

        foreach (var file in profile.Files)
        {
            Console.WriteLine($"{UnixModesText(file.Mode)}  {Path.Join(root, file.Path)}");
        }

        Console.WriteLine($"{profile.Files.Count} files written under {root} (secret values shown as <redacted>); nothing else was touched");
        return ExitCodes.Ok;
    }

    /// <summary>"8G", "8GiB", "8GB", "2048M", "512MiB" (binary units, as /proc/meminfo counts) to bytes.</summary>
    public static long ParseSize(string text)
    {
        var match = SizePattern().Match(text.Trim());
        if (!match.Success || !long.TryParse(match.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
        {
            throw new UsageException($"--memory: '{Grammar.Printable(text)}' must be a size like 8G, 16GiB or 2048M");
        }

        var shift = char.ToUpperInvariant(match.Groups[2].Value.FirstOrDefault('B')) switch
        {
            'K' => 10,
            'M' => 20,
            'G' => 30,
            'T' => 40,
            _ => 0,
        };
        return value is > 0 and < (1L << 22) ? value << shift : throw new UsageException($"--memory: '{Grammar.Printable(text)}' is out of range");
    }

    private static async Task<HostSpec> LoadSpecAsync(ParsedArgs args, CancellationToken ct)
    {
        if (args.Value("spec") is { } specPath)
        {
            return await SpecCache.LoadAsync(specPath, ct);
        }

        var cached = Path.Combine(AgentConfig.DefaultStateDirectory, "spec.json");
        return File.Exists(cached) ? await SpecCache.LoadAsync(cached, ct) : new HostSpec { Odoo = new OdooSpec() };
    }

    private static string UnixModesText(UnixFileMode mode) => Resources.UnixModes.Format(mode);

    [GeneratedRegex(@"^(\d{1,7})\s*([KMGT](i?B)?|B)?\z", RegexOptions.IgnoreCase)]
    private static partial Regex SizePattern();
}
