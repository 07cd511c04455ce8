using OdooFleet.Agent.Engine;

namespace OdooFleet.Agent.Resources;

/// <summary>
/// Checks an Odoo login filter with `fail2ban-regex` against lines in Odoo 18's real format: each
/// failed login must match and yield the client's address, a successful login and a werkzeug
/// access line must not match. The filter is copied under a plain name into a private directory
/// because fail2ban-regex only treats simple paths as filter files (anything else is read as a regex).
/// </summary>
internal sealed class Fail2banFilterValidator(ICommandRunner runner) : IFileValidator
{
    /// <summary>Sample log lines and the host fail2ban must take from each (null: the line must not match).</summary>
    internal static readonly IReadOnlyList<(string Line, string? Host)> Samples =
    [
        // Odoo 18 appends an empty %(perf_info)s: the line ends with a space.
        ("2026-11-23 13:03:40,979 4242 INFO acme odoo.addons.base.models.res_users: Login failed for db:acme login:admin from 203.0.113.7 ", "203.0.113.7"),
        ("2026-11-23 13:03:41,102 4242 INFO ? odoo.addons.base.models.res_users: Login failed for db:acme login:Jane Doe from 198.51.100.23", "198.51.100.23"),
        ("2026-11-23 13:03:42,311 4243 INFO acme odoo.addons.base.models.res_users: Login failed for db:acme login:x from 192.0.2.1 from 203.0.113.8 ", "203.0.113.8"),
        ("2026-11-23 13:03:43,007 4243 INFO acme odoo.addons.base.models.res_users: Login failed for db:acme login:admin from 2001:db8::7 ", "2001:db8::7"),
        ("2026-11-23 13:03:44,500 4242 INFO acme odoo.addons.base.models.res_users: Login successful for db:acme login:admin from 203.0.113.9 ", null),
        ("2026-11-23 13:03:44,512 4242 INFO acme werkzeug: 203.0.113.10 - - [23/Nov/2026 13:03:44] \"POST /web/login HTTP/1.1\" 200 - 12 0.010 0.030", null),
    ];

    public async Task ValidateAsync(string tempPath, CancellationToken ct)
    {
        var directory = Directory.CreateTempSubdirectory("odoofleet-f2b-filter-");
        try
        {
            var filter = Path.Combine(directory.FullName, "odoo-login.conf");
            var log = Path.Combine(directory.FullName, "odoo.log");
            File.Copy(tempPath, filter);
            await File.WriteAllLinesAsync(log, Samples.Select(s => s.Line), ct);

            // --usedns=no as in the jail; "-o ip" prints the host of each matching line, in order.
            var spec = new CommandSpec("fail2ban-regex", ["--usedns=no", "-o", "ip", "--", log, filter]) { Timeout = TimeSpan.FromMinutes(1) };
            var result = await runner.RunAsync(spec, ct);
            if (!result.Succeeded)
            {
                throw new ResourceFailedException($"fail2ban-regex rejected the new filter (the old file is kept): {result.Describe(spec)}");
            }

            var expected = Samples.Where(s => s.Host is not null).Select(s => s.Host!).ToList();
            var actual = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
            if (!expected.SequenceEqual(actual, StringComparer.Ordinal))
            {
                throw new ResourceFailedException(
                    $"the new fail2ban filter does not catch Odoo's failed logins right (the old file is kept): expected hosts [{string.Join(", ", expected)}] "
                    + $"from the failed-login samples and nothing from a successful login or an access line, got [{string.Join(", ", actual)}]");
            }
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
