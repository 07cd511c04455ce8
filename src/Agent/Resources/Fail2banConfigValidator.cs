using OdooFleet.Agent.Engine;

namespace OdooFleet.Agent.Resources;

/// <summary>
/// Checks a fail2ban configuration file (a jail or a filter) with `fail2ban-client -t` on a private
/// copy of the configuration directory in which the new file replaces the live one, so the whole
/// configuration fail2ban would load is tested and nothing under /etc changes. fail2ban refuses to
/// start when a jail's log file is missing, and so does this check: the log must exist first.
/// </summary>
internal sealed class Fail2banConfigValidator : IFileValidator
{
    private readonly ICommandRunner runner;
    private readonly string relativePath;
    private readonly string configDirectory;

    /// <param name="relativePath">Where the file lives under the configuration directory, e.g. "jail.d/odoofleet.conf".</param>
    /// <param name="configDirectory">The configuration directory as seen by this process (/etc/fail2ban on a host).</param>
    public Fail2banConfigValidator(ICommandRunner runner, string relativePath, string configDirectory = "/etc/fail2ban")
    {
        if (relativePath.StartsWith('/') || !Grammar.IsSafeAbsolutePath("/" + relativePath))
        {
            throw new ArgumentException($"'{relativePath}' must be a plain relative path such as jail.d/odoofleet.conf", nameof(relativePath));
        }

        this.runner = runner;
        this.relativePath = relativePath;
        this.configDirectory = configDirectory;
    }

    public async Task ValidateAsync(string tempPath, CancellationToken ct)
    {
        var directory = Directory.CreateTempSubdirectory("odoofleet-f2b-config-");
        try
        {
            var copy = Path.Combine(directory.FullName, "fail2ban");
            CopyTree(configDirectory, copy, Path.GetFileName(tempPath));
            var target = Path.Combine(copy, relativePath);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(tempPath, target, overwrite: true);

            var spec = new CommandSpec("fail2ban-client", ["-c", copy, "-t"]) { Timeout = TimeSpan.FromMinutes(1) };
            var result = await runner.RunAsync(spec, ct);
            if (!result.Succeeded)
            {
                var errors = (result.Stderr + "\n" + result.Stdout)
                    .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .Where(line => line.Contains("ERROR", StringComparison.Ordinal))
                    .Select(line => line.Replace(copy, configDirectory, StringComparison.Ordinal))
                    .ToList();
                throw new ResourceFailedException(
                    $"fail2ban-client -t rejected the new {relativePath} (the old file is kept): "
                    + (errors.Count > 0 ? string.Join(" | ", errors) : result.Describe(spec)));
            }
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    /// <summary>Copies regular files and directories; the temp file being validated is left out (it goes in under its real name).</summary>
    private static void CopyTree(string source, string destination, string skipName)
    {
        Directory.CreateDirectory(destination);
        foreach (var entry in new DirectoryInfo(source).EnumerateFileSystemInfos())
        {
            var target = Path.Combine(destination, entry.Name);
            if (entry is DirectoryInfo sub && sub.LinkTarget is null)
            {
                CopyTree(sub.FullName, target, skipName);
            }
            else if (entry is FileInfo file && entry.Name != skipName && (file.LinkTarget is null || file.ResolveLinkTarget(returnFinalTarget: true) is { Exists: true }))
            {
                // Follows symlinks: fail2ban reads the target's content (dangling links it cannot read are left out).
                File.Copy(file.FullName, target);
            }
        }
    }
}
