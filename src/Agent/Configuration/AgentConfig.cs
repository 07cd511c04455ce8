using System.Text.Json;
using System.Text.Json.Serialization;
using OdooFleet.Agent.IO;

namespace OdooFleet.Agent.Configuration;

/// <summary>The agent's identity and where to reach the fleet; written by `enroll`, read by `run`.</summary>
internal sealed record AgentConfig
{
    public const string DefaultPath = "/etc/odoofleet/agent.json";
    public const string DefaultStateDirectory = "/var/lib/odoofleet";

    public required string HostId { get; init; }
    public required string AgentSecret { get; init; }
    public required IReadOnlyList<string> ControllerUrls { get; init; }
    public required BrokerSettings Broker { get; init; }
    public string? Name { get; init; }
    public DateTimeOffset? EnrolledAt { get; init; }

    /// <summary>journal.json and spec.json live here.</summary>
    public string StateDirectory { get; init; } = DefaultStateDirectory;

    /// <summary>Root that managed paths are resolved under; "/" on a real host.</summary>
    public string Root { get; init; } = "/";

    public string JournalPath => Path.Combine(StateDirectory, "journal.json");

    public string SpecCachePath => Path.Combine(StateDirectory, "spec.json");

    public static async Task<AgentConfig> LoadAsync(string path, CancellationToken ct)
    {
        byte[] bytes;
        try
        {
            bytes = await File.ReadAllBytesAsync(path, ct);
        }
        catch (FileNotFoundException)
        {
            throw new ConfigException($"{path}: not found; enroll this host first with `odoofleet-agent enroll --controller URL --token TOKEN`");
        }
        catch (DirectoryNotFoundException)
        {
            throw new ConfigException($"{path}: not found; enroll this host first with `odoofleet-agent enroll --controller URL --token TOKEN`");
        }

        AgentConfig? config;
        try
        {
            config = JsonSerializer.Deserialize(bytes, AgentJsonContext.Default.AgentConfig);
        }
        catch (JsonException e)
        {
            throw new ConfigException($"{path}: is not valid agent configuration ({e.Message}); re-enroll with --force");
        }

        if (config is null || config.HostId.Length == 0 || config.AgentSecret.Length == 0 || config.ControllerUrls.Count == 0)
        {
            throw new ConfigException($"{path}: hostId, agentSecret and controllerUrls are required; re-enroll with --force");
        }

        return config;
    }

    /// <summary>Writes the config (it holds secrets): mode 0600 in a 0700 directory, atomically.</summary>
    public async Task SaveAsync(string path, CancellationToken ct)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var json = JsonSerializer.SerializeToUtf8Bytes(this, AgentJsonContext.Default.AgentConfig);
        await AtomicFile.WriteAsync(path, json, UnixFileMode.UserRead | UnixFileMode.UserWrite, ct);
    }

    /// <summary>Union of the URLs given on the command line and those the controller returned, first seen first.</summary>
    public static IReadOnlyList<string> MergeControllerUrls(IEnumerable<string> given, IEnumerable<string> returned) =>
        given.Concat(returned)
            .Select(u => u.Trim().TrimEnd('/'))
            .Where(u => u.Length > 0)
            .Distinct(StringComparer.OrdinalIgnoreCase)
            .ToList();
}

internal sealed record BrokerSettings
{
    public required string Host { get; init; }
    public int Port { get; init; } = 5672;
    public string VirtualHost { get; init; } = "/";
    public required string Username { get; init; }
    public required string Password { get; init; }
    public required string Queue { get; init; }
}

internal sealed class ConfigException(string message) : Exception(message);

[JsonSourceGenerationOptions(
    WriteIndented = true,
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UseStringEnumConverter = true)]
[JsonSerializable(typeof(AgentConfig))]
[JsonSerializable(typeof(Transport.JournalState))]
internal sealed partial class AgentJsonContext : JsonSerializerContext;
