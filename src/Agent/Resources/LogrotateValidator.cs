using OdooFleet.Agent.Engine;

namespace OdooFleet.Agent.Resources;

/// <summary>
/// Checks a logrotate configuration with `logrotate -d` (debug mode rotates nothing) and a private
/// state file. logrotate exits 0 on much it then ignores (an unknown option line, a config file
/// writable by group or others, which it refuses to read at all), so every "error:" line fails.
/// </summary>
internal sealed class LogrotateValidator(ICommandRunner runner) : IFileValidator
{
    public async Task ValidateAsync(string tempPath, CancellationToken ct)
    {
        var directory = Directory.CreateTempSubdirectory("odoofleet-logrotate-");
        try
        {
            var state = Path.Combine(directory.FullName, "status");
            var spec = new CommandSpec("logrotate", ["-d", "--state", state, "--", tempPath]) { Timeout = TimeSpan.FromMinutes(1) };
            var result = await runner.RunAsync(spec, ct);
            var errors = (result.Stderr + "\n" + result.Stdout)
                .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Where(line => line.StartsWith("error:", StringComparison.Ordinal))
                .Select(line => line.Replace(tempPath, "the new file", StringComparison.Ordinal))
                .ToList();
            if (!result.Succeeded || errors.Count > 0)
            {
                throw new ResourceFailedException(
                    $"logrotate -d rejected the new configuration (the old file is kept): {(errors.Count > 0 ? string.Join(" | ", errors) : result.Describe(spec))}");
            }
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
