using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using OdooFleet.Agent.Configuration;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Transport;

namespace OdooFleet.Agent.Cli;

/// <summary>
/// `converge`: one local converge of the cached (or given) spec, printed as a table. --check
/// observes and diffs only (touches nothing) and shows file diffs; --diff shows them when applying too.
/// </summary>
internal static class ConvergeCommand
{
    public static async Task<int> RunAsync(ParsedArgs args, CancellationToken ct)
    {
        var configPath = args.Value("config") ?? AgentConfig.DefaultPath;
        var specPath = args.Value("spec");
        var mode = args.Flag("check") ? ConvergeMode.Check : ConvergeMode.Apply;
        var showDiffs = mode == ConvergeMode.Check || args.Flag("diff");
        string stateDirectory = AgentConfig.DefaultStateDirectory;
        string root = "/";
        if (File.Exists(configPath) || specPath is null)
        {
            var config = await AgentConfig.LoadAsync(configPath, ct);
            (stateDirectory, root) = (config.StateDirectory, config.Root);
            specPath ??= config.SpecCachePath;
        }

        DesiredHost host;
        try
        {
            host = (await SpecCache.LoadAsync(specPath, ct)).ToDomain();
        }
        catch (InvalidDataException e)
        {
            await Console.Error.WriteLineAsync($"error: {e.Message}");
            return ExitCodes.ConfigInvalid;
        }

        using var http = new HttpClient();
        var environment = new ProfileEnvironment(new HostPaths(root), new ProcessCommandRunner(), http, TimeProvider.System, Facts.FactCollector.ProfileFacts)
        {
            StateDirectory = stateDirectory,
        };
        var converger = new LocalConverger(
            environment,
            new ConvergeEngine(TimeProvider.System, NullLogger<ConvergeEngine>.Instance),
            Path.Combine(stateDirectory, "converge.lock"),
            TimeProvider.System,
            NullLogger<LocalConverger>.Instance);
        LocalConvergeResult result;
        try
        {
            result = await converger.RunAsync(host, mode, ct);
        }
        catch (ConvergeBusyException e)
        {
            await Console.Error.WriteLineAsync($"error: {e.Message}");
            return ExitCodes.Busy;
        }

        var results = result.Outcome.Results;
        if (mode == ConvergeMode.Check)
        {
            foreach (var line in result.Explanation)
            {
                Console.WriteLine("# " + line);
            }
        }

        Console.Write(FormatTable(results));
        if (showDiffs)
        {
            foreach (var detail in results.Where(r => r.Status == ResourceStatus.Changed && r.Detail is not null))
            {
                Console.Write(detail.Detail!.EndsWith('\n') ? detail.Detail : detail.Detail + "\n");
            }
        }

        var changed = results.Count(r => r.Status == ResourceStatus.Changed);
        Console.WriteLine(Summary(host.Generation, mode, result, changed));
        if (result.Error is not null)
        {
            await Console.Error.WriteLineAsync($"error: {result.Error}");
        }

        return !result.Success ? ExitCodes.Failed
            : mode == ConvergeMode.Check && changed > 0 ? ExitCodes.ChangesPending
            : ExitCodes.Ok;
    }

    public static string Summary(long generation, ConvergeMode mode, LocalConvergeResult result, int changed)
    {
        var counts = result.Outcome.Results.GroupBy(r => r.Status).ToDictionary(g => g.Key, g => g.Count());
        var verb = mode == ConvergeMode.Check ? "would change" : "changed";
        return $"generation {generation}{(mode == ConvergeMode.Check ? " (check, nothing applied)" : "")}: {(result.Success ? "ok" : "FAILED")}, "
            + $"{changed} {verb}, {counts.GetValueOrDefault(ResourceStatus.Unchanged)} unchanged, "
            + $"{counts.GetValueOrDefault(ResourceStatus.Failed)} failed, {counts.GetValueOrDefault(ResourceStatus.Skipped)} skipped; "
            + $"running release {result.RunningRelease?.ToString() ?? "none"}";
    }

    public static string FormatTable(IReadOnlyList<ResourceResult> results)
    {
        var rows = results
            .Select(r => (Status: r.Status.ToString().ToUpperInvariant(), r.Id, Duration: r.Duration.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture) + " ms", r.Message))
            .ToList();
        var statusWidth = Math.Max("STATUS".Length, rows.Count == 0 ? 0 : rows.Max(r => r.Status.Length));
        var idWidth = Math.Max("RESOURCE".Length, rows.Count == 0 ? 0 : rows.Max(r => r.Id.Length));
        var durationWidth = Math.Max("TIME".Length, rows.Count == 0 ? 0 : rows.Max(r => r.Duration.Length));
        var text = new System.Text.StringBuilder();
        void Row(string status, string id, string duration, string message) =>
            text.Append(status.PadRight(statusWidth)).Append("  ").Append(id.PadRight(idWidth)).Append("  ")
                .Append(duration.PadLeft(durationWidth)).Append("  ").Append(message).Append('\n');
        Row("STATUS", "RESOURCE", "TIME", "MESSAGE");
        foreach (var row in rows)
        {
            Row(row.Status, row.Id, row.Duration, row.Message);
        }

        return text.ToString();
    }
}
