using System.Text.Json;

namespace OdooFleet.Cli.Configuration;

/// <summary>Where the controller is and how to authenticate: what every command needs before its first call.</summary>
/// <param name="Addresses">Tried in order; later ones are the failover targets.</param>
/// <param name="ApiToken">Sent as "authorization: Bearer"; never printed.</param>
/// <param name="Source">Which of the three ways named the addresses, for error messages.</param>
internal sealed record ControllerTarget(IReadOnlyList<Uri> Addresses, string? ApiToken, string Source);

/// <summary>The config files to consider, first existing one wins.</summary>
/// <param name="Explicit">$FLEET_CONFIG: must exist when set.</param>
/// <param name="User">~/.config/odoofleet/fleet.json.</param>
/// <param name="System">/etc/odoofleet/fleet.json.</param>
internal sealed record ConfigLocations(string? Explicit, string? User, string System)
{
    public static ConfigLocations From(CliHost host)
    {
        var home = host.GetEnvironment("HOME");
        return new ConfigLocations(
            host.GetEnvironment(ControllerResolver.ConfigVariable),
            home is null ? null : Path.Combine(home, ".config", "odoofleet", "fleet.json"),
            host.SystemConfigPath);
    }
}

/// <summary>Controller address precedence: --controller, then FLEET_CONTROLLER, then the config file.</summary>
internal static class ControllerResolver
{
    public const string ControllerOption = "--controller";
    public const string ControllerVariable = "FLEET_CONTROLLER";
    public const string ConfigVariable = "FLEET_CONFIG";

    public const string HowToSetController =
        "pass --controller URL, set FLEET_CONTROLLER=URL, or write {\"controller\": \"http://HOST:7001\"} to "
        + "~/.config/odoofleet/fleet.json (or /etc/odoofleet/fleet.json, or the file named by FLEET_CONFIG)";

    public static ControllerTarget Resolve(string? flag, string? environmentValue, ConfigLocations locations)
    {
        var config = LoadConfig(locations);
        if (!string.IsNullOrWhiteSpace(flag))
        {
            return new ControllerTarget(ParseList(flag, ControllerOption), config.File?.ApiToken, ControllerOption);
        }

        if (!string.IsNullOrWhiteSpace(environmentValue))
        {
            return new ControllerTarget(ParseList(environmentValue, ControllerVariable), config.File?.ApiToken, ControllerVariable);
        }

        if (config.Problem is not null)
        {
            // Only fatal here: with --controller or FLEET_CONTROLLER an unreadable file is not needed.
            throw CliException.Usage(config.Problem);
        }

        if (config.File is null)
        {
            throw CliException.Usage($"no controller address configured; {HowToSetController}");
        }

        var candidates = new List<string>();
        if (!string.IsNullOrWhiteSpace(config.File.Controller))
        {
            candidates.Add(config.File.Controller);
        }

        candidates.AddRange(config.File.Controllers?.Where(c => !string.IsNullOrWhiteSpace(c)) ?? []);
        if (candidates.Count == 0)
        {
            throw CliException.Usage($"{config.Path} has no \"controller\" or \"controllers\"; {HowToSetController}");
        }

        var source = config.Path!;
        return new ControllerTarget(Distinct(candidates.Select(c => ParseAddress(c, source))), config.File.ApiToken, source);
    }

    public static Uri ParseAddress(string text, string source)
    {
        var trimmed = text.Trim();
        if (Uri.TryCreate(trimmed, UriKind.Absolute, out var uri)
            && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
            && uri.Host.Length > 0)
        {
            return uri;
        }

        throw CliException.Usage(
            $"{source}: '{trimmed}' is not a controller URL; use http://HOST:PORT or https://HOST:PORT (e.g. http://127.0.0.1:7001)");
    }

    private static List<Uri> ParseList(string text, string source) =>
        Distinct(text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(t => ParseAddress(t, source)));

    private static List<Uri> Distinct(IEnumerable<Uri> addresses)
    {
        var list = addresses.Distinct().ToList();
        return list.Count > 0 ? list : throw CliException.Usage($"no controller address given; {HowToSetController}");
    }

    private static LoadedConfig LoadConfig(ConfigLocations locations)
    {
        string? path;
        if (locations.Explicit is not null)
        {
            if (!File.Exists(locations.Explicit))
            {
                return new LoadedConfig(null, locations.Explicit, $"{ConfigVariable} names {locations.Explicit}, which does not exist");
            }

            path = locations.Explicit;
        }
        else
        {
            path = new[] { locations.User, locations.System }.FirstOrDefault(p => p is not null && File.Exists(p));
            if (path is null)
            {
                return new LoadedConfig(null, null, null);
            }
        }

        try
        {
            var json = File.ReadAllText(path);
            var file = JsonSerializer.Deserialize(json, ConfigJsonContext.Default.FleetConfigFile)
                ?? throw new JsonException("the file holds null");
            return new LoadedConfig(file, path, null);
        }
        catch (JsonException e)
        {
            return new LoadedConfig(null, path, $"{path} is not valid fleet config JSON ({e.Message}); expected {{\"controller\": \"http://HOST:7001\"}}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new LoadedConfig(null, path, $"cannot read {path}: {e.Message}; fix its permissions, or {HowToSetController}");
        }
    }

    private sealed record LoadedConfig(FleetConfigFile? File, string? Path, string? Problem);
}
