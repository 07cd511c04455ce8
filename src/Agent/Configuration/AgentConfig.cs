using System.Text.Json;
using System.Text.Json.Serialization;
using OdooFleet.Agent.IO;

namespace OdooFleet.Agent.Configuration;

/// <summary>Where to reach the fleet and what to trust; written by `enroll`, read by `run`. The private key lives in <see cref="IdentityPath"/>.</summary>
internal sealed record AgentConfig
{
    public const string DefaultPath = "/etc/odoofleet/agent.json";
    public const string DefaultStateDirectory = "/var/lib/odoofleet";
    public const string IdentityFileName = "agent-identity.pem";

    public required string HostId { get; init; }
    public required IReadOnlyList<string> ControllerUrls { get; init; }
    public required BrokerSettings Broker { get; init; }

    /// <summary>One PEM file: the host's private key (PKCS#8), its client certificate and the fleet CA.</summary>
    public required string IdentityPath { get; init; }

    /// <summary>SubjectPublicKeyInfo (DER, base64) of the key that signs host commands.</summary>
    public required string CommandSigningKey { get; init; }

    /// <summary>The controller's id of <see cref="CommandSigningKey"/> (lowercase hex of the first 8 bytes of SHA-256 of the SPKI).</summary>
    public required string CommandSigningKeyId { get; init; }

    public string? Name { get; init; }
    public DateTimeOffset? EnrolledAt { get; init; }

    /// <summary>journal.json, spec.json and nonces.json live here.</summary>
    public string StateDirectory { get; init; } = DefaultStateDirectory;

    /// <summary>Root that managed paths are resolved under; "/" on a real host.</summary>
    public string Root { get; init; } = "/";

    public string JournalPath => Path.Combine(StateDirectory, "journal.json");

    public string SpecCachePath => Path.Combine(StateDirectory, "spec.json");

    public string ReplayGuardPath => Path.Combine(StateDirectory, "nonces.json");

    /// <summary>The identity file beside a config file: /etc/odoofleet/agent.json → /etc/odoofleet/agent-identity.pem.</summary>
    public static string IdentityPathBeside(string configPath) =>
        Path.Combine(Path.GetDirectoryName(Path.GetFullPath(configPath))!, IdentityFileName);

    public static async Task<AgentConfig> LoadAsync(string path, CancellationToken ct)
    {
        byte[] bytes;
        try
        {
            bytes = await File.ReadAllBytesAsync(path, ct);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ConfigException($"{path}: not found; enroll this host first with `odoofleet-agent enroll --controller https://HOST:PORT --token TOKEN --ca-sha256 HEX`");
        }

        AgentConfig? config;
        try
        {
            config = JsonSerializer.Deserialize(bytes, AgentJsonContext.Default.AgentConfig);
        }
        catch (JsonException e)
        {
            // An agent.json from before client certificates has agentSecret and none of identityPath/commandSigningKey.
            throw new ConfigException($"{path}: is not valid agent configuration ({e.Message}); re-enroll with --force and a new token");
        }

        if (config is null || config.HostId.Length == 0 || config.ControllerUrls.Count == 0 || config.IdentityPath.Length == 0
            || config.CommandSigningKey.Length == 0 || config.CommandSigningKeyId.Length == 0)
        {
            throw new ConfigException($"{path}: hostId, controllerUrls, identityPath, commandSigningKey and commandSigningKeyId are required; re-enroll with --force and a new token");
        }

        if (config.ControllerUrls.FirstOrDefault(u => !u.StartsWith("https://", StringComparison.OrdinalIgnoreCase)) is { } plain)
        {
            throw new ConfigException($"{path}: controllerUrls: '{plain}' is not https; the agent only talks to controllers over TLS; fix the URL or re-enroll with --force");
        }

        try
        {
            Convert.FromBase64String(config.CommandSigningKey);
        }
        catch (FormatException)
        {
            throw new ConfigException($"{path}: commandSigningKey is not base64; re-enroll with --force and a new token");
        }

        return config;
    }

    /// <summary>Writes the config (it holds broker credentials): mode 0600 in a 0700 directory, atomically.</summary>
    public async Task SaveAsync(string path, CancellationToken ct)
    {
        PrivateDirectory.Ensure(path);
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

internal static class PrivateDirectory
{
    private const UnixFileMode Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>Creates the parent directory of <paramref name="filePath"/> with mode 0700 (secrets live in it).</summary>
    public static void Ensure(string filePath)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(filePath))!;
        Directory.CreateDirectory(directory, Mode);
        File.SetUnixFileMode(directory, Mode);
    }
}

[JsonSourceGenerationOptions(
    WriteIndented = true,
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UseStringEnumConverter = true)]
[JsonSerializable(typeof(AgentConfig))]
[JsonSerializable(typeof(Transport.JournalState))]
[JsonSerializable(typeof(Transport.ReplayState))]
[JsonSerializable(typeof(Release.TransitionRecord))]
internal sealed partial class AgentJsonContext : JsonSerializerContext;
