using OdooFleet.Agent.Engine;

namespace OdooFleet.Agent.Resources;

/// <summary>
/// Validates a unit file with `systemd-analyze verify` before it is renamed into place. verify
/// derives the unit name from the file name, so the temp file is checked under its real name in a
/// private directory. verify also insists that ExecStart exists on this machine; whether the
/// release provides it is the release's and the health check's concern, not the unit file's, so
/// exactly that complaint is tolerated (it also lets a unit be validated before its first release).
/// </summary>
internal sealed class SystemdUnitValidator(ICommandRunner runner, string unitName, string execStartProgram) : IFileValidator
{
    public async Task ValidateAsync(string tempPath, CancellationToken ct)
    {
        if (!ProcessCommandRunner.IsOnPath("systemd-analyze"))
        {
            return;
        }

        var directory = Directory.CreateTempSubdirectory("odoofleet-verify-");
        try
        {
            var copy = Path.Combine(directory.FullName, unitName);
            File.Copy(tempPath, copy);
            var spec = new CommandSpec("systemd-analyze", ["verify", "--", copy]) { Timeout = TimeSpan.FromSeconds(60) };
            var result = await runner.RunAsync(spec, ct);
            var lines = (result.Stderr + "\n" + result.Stdout)
                .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Where(line => !IsMissingExecStart(line))
                .ToList();

            // verify exits 0 on "Unknown key ..., ignoring" and bad values it ignores: systemd would
            // silently run a different unit than we wrote, so any complaint about our file is an error.
            var aboutUnit = lines.Where(line => line.Contains(copy, StringComparison.Ordinal) || line.Contains(unitName, StringComparison.Ordinal)).ToList();
            var problems = result.Succeeded ? aboutUnit : (aboutUnit.Count > 0 ? aboutUnit : lines);
            if (problems.Count > 0 || result.TimedOut || (!result.Succeeded && lines.Count == 0 && !OnlyMissingExecStart(result)))
            {
                throw new ResourceFailedException(
                    $"systemd-analyze verify rejected the new {unitName} (the old file is kept): {string.Join(" | ", problems.Select(p => p.Replace(copy, unitName, StringComparison.Ordinal)))}");
            }
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private bool OnlyMissingExecStart(CommandResult result) =>
        (result.Stderr + result.Stdout).Contains($"Command {execStartProgram} is not executable", StringComparison.Ordinal);

    private bool IsMissingExecStart(string line) =>
        line.Contains($"Command {execStartProgram} is not executable", StringComparison.Ordinal);
}
