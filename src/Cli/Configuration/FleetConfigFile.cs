using System.Text.Json.Serialization;

namespace OdooFleet.Cli.Configuration;

/// <summary>fleet.json: <c>{"controller": "...", "controllers": ["...", "..."], "apiToken": "..."}</c>.</summary>
internal sealed record FleetConfigFile
{
    public string? Controller { get; init; }

    public IReadOnlyList<string>? Controllers { get; init; }

    public string? ApiToken { get; init; }
}

[JsonSourceGenerationOptions(
    PropertyNameCaseInsensitive = true,
    ReadCommentHandling = System.Text.Json.JsonCommentHandling.Skip,
    AllowTrailingCommas = true)]
[JsonSerializable(typeof(FleetConfigFile))]
internal sealed partial class ConfigJsonContext : JsonSerializerContext;
