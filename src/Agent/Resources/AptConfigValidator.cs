using OdooFleet.Agent.Engine;

namespace OdooFleet.Agent.Resources;

/// <summary>
/// Checks an apt.conf.d file with `apt-config dump`: apt stops with "E: Syntax error" on a broken
/// file and every apt run on the host would then fail. The check reads a private copy of the
/// parts directory in which the new file replaces the live one (APT_CONFIG points apt at it), so a
/// broken live file being put back does not fail the check of its replacement, and /etc stays untouched.
/// </summary>
internal sealed class AptConfigValidator : IFileValidator
{
    private readonly ICommandRunner runner;
    private readonly string fileName;
    private readonly string partsDirectory;

    /// <param name="fileName">The file's name in the parts directory, e.g. "52odoofleet-unattended-upgrades".</param>
    /// <param name="partsDirectory">The parts directory as seen by this process (/etc/apt/apt.conf.d on a host).</param>
    public AptConfigValidator(ICommandRunner runner, string fileName, string partsDirectory = "/etc/apt/apt.conf.d")
    {
        if (fileName.Contains('/', StringComparison.Ordinal) || !Grammar.IsSafeAbsolutePath("/" + fileName) || fileName.StartsWith('.'))
        {
            throw new ArgumentException($"'{fileName}' must be a plain file name such as 52odoofleet-unattended-upgrades", nameof(fileName));
        }

        this.runner = runner;
        this.fileName = fileName;
        this.partsDirectory = partsDirectory;
    }

    public async Task ValidateAsync(string tempPath, CancellationToken ct)
    {
        var directory = Directory.CreateTempSubdirectory("odoofleet-apt-config-");
        try
        {
            var parts = Path.Combine(directory.FullName, "apt.conf.d");
            Directory.CreateDirectory(parts);
            if (Directory.Exists(partsDirectory))
            {
                // apt skips dot files (the temp file being validated is one).
                foreach (var file in new DirectoryInfo(partsDirectory).EnumerateFiles().Where(f => !f.Name.StartsWith('.') && f.Name != fileName))
                {
                    if (file.LinkTarget is null || file.ResolveLinkTarget(returnFinalTarget: true) is { Exists: true })
                    {
                        file.CopyTo(Path.Combine(parts, file.Name));
                    }
                }
            }

            File.Copy(tempPath, Path.Combine(parts, fileName));
            var main = Path.Combine(directory.FullName, "apt.conf");
            await File.WriteAllTextAsync(main, $"Dir::Etc::Parts \"{parts}\";\n", ct);

            var spec = new CommandSpec("apt-config", ["dump"])
            {
                Timeout = TimeSpan.FromMinutes(1),
                Environment = new Dictionary<string, string>(StringComparer.Ordinal) { ["APT_CONFIG"] = main },
            };
            var result = await runner.RunAsync(spec, ct);

            // "E:" is an error; "W:" (e.g. an unreadable file) means apt would not read what we wrote either.
            var problems = result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Where(line => line.StartsWith("E:", StringComparison.Ordinal) || line.StartsWith("W:", StringComparison.Ordinal))
                .Select(line => line.Replace(parts, partsDirectory, StringComparison.Ordinal))
                .ToList();
            if (!result.Succeeded || problems.Count > 0)
            {
                throw new ResourceFailedException(
                    $"apt-config rejected the new {fileName} (the old file is kept): {(problems.Count > 0 ? string.Join(" | ", problems) : result.Describe(spec))}");
            }
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
