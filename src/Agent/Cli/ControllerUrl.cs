namespace OdooFleet.Agent.Cli;

internal static class ControllerUrl
{
    /// <summary>Null if <paramref name="url"/> is a usable controller address, else what is wrong and how to fix it.</summary>
    public static string? Check(string url)
    {
        const string Example = "e.g. https://fleet.example.com:5001";
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            return $"--controller '{url}': not an absolute URL; give scheme, host and port, {Example}";
        }

        if (uri.Scheme is not ("http" or "https"))
        {
            return $"--controller '{url}': scheme must be http or https, not '{uri.Scheme}'; {Example}";
        }

        if (uri.Host.Length == 0)
        {
            return $"--controller '{url}': has no host; {Example}";
        }

        if (uri.Port is < 1 or > 65535)
        {
            return $"--controller '{url}': port must be 1-65535; {Example}";
        }

        if (uri.UserInfo.Length > 0 || uri.Query.Length > 0 || uri.Fragment.Length > 0)
        {
            return $"--controller '{url}': must not contain credentials, a query or a fragment; the token goes in --token";
        }

        return null;
    }
}
