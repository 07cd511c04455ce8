using OdooFleet.Cli.Transport;

namespace OdooFleet.Cli;

/// <summary>
/// Everything `fleet` takes from the process it runs in. Main fills it from the real console and
/// environment; tests build one with string writers, an explicit environment and a fake clock.
/// </summary>
internal sealed class CliHost
{
    public const string DefaultSystemConfigPath = "/etc/odoofleet/fleet.json";

    public required TextWriter Out { get; init; }

    public required TextWriter Err { get; init; }

    public required IReadOnlyDictionary<string, string?> Environment { get; init; }

    /// <summary>True when stdout is an interactive terminal: enables colours and the live rollout view.</summary>
    public bool OutputIsTerminal { get; init; }

    /// <summary>Ctrl+C / SIGTERM cancel the running command (off in tests: no process-wide handlers).</summary>
    public bool HandleTerminationSignals { get; init; }

    public string SystemConfigPath { get; init; } = DefaultSystemConfigPath;

    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Wait before reconnect attempt N (1-based) after a watch stream broke.</summary>
    public Func<int, TimeSpan> ReconnectDelay { get; init; } = ReconnectBackoff.Jittered;

    public string? GetEnvironment(string name) =>
        Environment.TryGetValue(name, out var value) && !string.IsNullOrWhiteSpace(value) ? value : null;
}
