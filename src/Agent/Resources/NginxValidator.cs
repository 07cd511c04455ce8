using System.Globalization;
using System.Text.RegularExpressions;
using OdooFleet.Agent.Engine;

namespace OdooFleet.Agent.Resources;

/// <summary>
/// Validates one nginx site file with the real `nginx -t`, without touching the live configuration:
/// a private main config in a temp directory (its own pid and error log, the host's modules and
/// mime.types) includes only the temp file, so this works whether or not nginx runs and never sees
/// other sites. Conflicts with other sites are the post-swap `nginx -t`'s job, before the reload.
/// nginx -t loads the certificate and key and creates the proxy_cache_path directory, as a start would.
/// </summary>
/// <param name="httpPreamble">http-level lines the live configuration has elsewhere (a tenant site relies on the host site's bucket size).</param>
internal sealed partial class NginxValidator(ICommandRunner runner, string declaredPath, string nginxDirectory = "/etc/nginx", string httpPreamble = "") : IFileValidator
{
    /// <summary>The first nginx with -e (error log path at startup); older ones log to the compiled-in path.</summary>
    private static readonly Version ErrorLogOption = new(1, 19, 5);

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public async Task ValidateAsync(string tempPath, CancellationToken ct)
    {
        foreach (var path in new[] { tempPath, nginxDirectory })
        {
            if (!Grammar.IsSafeAbsolutePath(path))
            {
                throw new ResourceFailedException($"nginx validation of {declaredPath}: '{Grammar.Printable(path)}' cannot be written into an nginx include safely; use a plain absolute path");
            }
        }

        var version = await VersionAsync(ct);
        var directory = Directory.CreateTempSubdirectory("odoofleet-nginx-");
        try
        {
            var main = Path.Combine(directory.FullName, "nginx.conf");
            var errorLog = Path.Combine(directory.FullName, "error.log");
            await File.WriteAllTextAsync(main, MainConfig(directory.FullName, errorLog, tempPath), ct);
            List<string> arguments = ["-t", "-p", directory.FullName + "/", "-c", main];
            if (version >= ErrorLogOption)
            {
                arguments.AddRange(["-e", errorLog]);
            }

            var spec = new CommandSpec("nginx", arguments) { Timeout = Timeout };
            var result = await runner.RunAsync(spec, ct);
            if (result.ExitCode == CommandResult.NotFoundExitCode)
            {
                throw new ResourceFailedException($"cannot validate {declaredPath}: nginx is not installed; install the nginx package first");
            }

            var lines = (result.Stderr + "\n" + result.Stdout)
                .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(line => line.Replace(tempPath, declaredPath, StringComparison.Ordinal))
                .ToList();
            var complaints = lines.Where(line => ComplaintPattern().IsMatch(line)).ToList();

            // The private config holds no other server, so a warning that names no other file is
            // about ours (e.g. "conflicting server name ..., ignored": nginx would serve something
            // other than what we wrote). The "listen ... http2 is deprecated" notice of nginx
            // 1.25.1+ is expected: 1.18 and 1.22 need that form.
            var aboutSite = complaints
                .Where(line => FilePattern().Match(line) is not { Success: true } file || file.Groups[1].Value == declaredPath)
                .Where(line => !line.Contains("http2\" directive is deprecated", StringComparison.Ordinal))
                .ToList();
            if (!result.Succeeded || aboutSite.Count > 0)
            {
                IReadOnlyList<string> shown = result.TimedOut ? [result.Describe(spec)]
                    : result.Succeeded ? aboutSite
                    : complaints.Count > 0 ? complaints : lines;
                throw new ResourceFailedException(
                    $"nginx -t rejected the new {declaredPath} (the old file is kept): {string.Join(" | ", shown.Select(l => l.Replace(directory.FullName, "<private nginx.conf dir>", StringComparison.Ordinal)))}");
            }
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private string MainConfig(string directory, string errorLog, string site) => $$"""
        # Private wrapper written by odoofleet-agent to validate {{declaredPath}} alone.
        pid {{directory}}/nginx.pid;
        error_log {{errorLog}};
        include {{nginxDirectory}}/modules-enabled/*.conf;

        events {
        }

        http {
            include {{nginxDirectory}}/mime.types;
            default_type application/octet-stream;
            types_hash_max_size 2048;
            {{httpPreamble}}
            include {{site}};
        }

        """;

    private async Task<Version?> VersionAsync(CancellationToken ct)
    {
        // `nginx -v` prints "nginx version: nginx/1.22.1" on stderr.
        var result = await runner.RunAsync(new CommandSpec("nginx", ["-v"]) { Timeout = Timeout }, ct);
        var match = VersionPattern().Match(result.Stderr + result.Stdout);
        return match.Success
            ? new Version(
                int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture),
                int.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture),
                int.Parse(match.Groups[3].Value, CultureInfo.InvariantCulture))
            : null;
    }

    [GeneratedRegex(@"nginx/(\d{1,4})\.(\d{1,4})\.(\d{1,4})")]
    private static partial Regex VersionPattern();

    [GeneratedRegex(@" in (/\S+):\d+")]
    private static partial Regex FilePattern();

    [GeneratedRegex(@"\[(emerg|alert|crit|error|warn)\]")]
    private static partial Regex ComplaintPattern();
}
