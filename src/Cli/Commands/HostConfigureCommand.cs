using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using OdooFleet.Cli.Input;
using OdooFleet.Cli.Output;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Cli.Commands;

/// <summary>
/// `fleet host configure HOST [settings]`: changes a host's profile settings. The CLI checks the
/// shape of each value (numbers, choices, durations, KEY=VALUE); the controller checks the rest
/// (domain and option grammars, combinations) and is the only judge.
/// </summary>
internal static class HostConfigureCommand
{
    /// <summary>A two-word choice (open|blocked, on|off). Not bool: the parser treats bool options as value-less flags.</summary>
    private readonly record struct Toggle(bool On);

    private const string Default = "default";
    private const string Auto = "auto";

    public static Command Create(CommandContext context)
    {
        var idOrName = new Argument<string>("host") { Description = "Host id (like h-3kq9t2mzpa) or name" };
        var domain = new Option<string[]>("--domain")
        {
            Description = "A domain this host serves (repeat for several; the first is primary, the others redirect to it); replaces the list",
            HelpName = "name",
        };
        var clearDomains = new Option<bool>("--clear-domains") { Description = "Serve no domain (the host name, self-signed)" };
        var tls = Choice("--tls", "TLS certificates: self-signed, or acme (Let's Encrypt; public domains and an e-mail needed)", "TLS mode",
            ("self-signed", TlsMode.SelfSigned), ("acme", TlsMode.Acme));
        var acmeEmail = new Option<string?>("--acme-email")
        {
            Description = "Contact e-mail for Let's Encrypt; 'default' takes the fleet's (Fleet:AcmeEmail)",
            HelpName = "email|default",
        };
        var workers = Number("--workers", "Odoo worker processes; auto computes them from cores and RAM", Auto, "N|auto");
        var cronThreads = Number("--cron-threads", "Odoo cron threads (max_cron_threads); auto computes them", Auto, "N|auto");
        var option = new Option<string[]>("--option")
        {
            Description = "An odoo.conf option of Odoo 18 (repeat for several), e.g. limit_time_cpu=600; options with their own flag, secrets and those the profile owns are refused",
            HelpName = "key=value",
        };
        var unsetOption = new Option<string[]>("--unset-option") { Description = "Remove an option set with --option (repeat for several)", HelpName = "key" };
        var logLevel = new Option<string?>("--log-level")
        {
            Description = "Odoo log level: debug, debug_rpc, debug_rpc_answer, debug_sql, info, warn, error, critical, test, runbot, notset, or default",
            HelpName = "level|default",
        };
        var databaseManager = Choice("--database-manager", "Odoo's database manager (/web/database/*) through nginx: blocked (production) or open", "state",
            ("blocked", new Toggle(false)), ("open", new Toggle(true)));
        var postgres = Choice("--postgres", "Where the databases live: local (installed and tuned by the agent) or remote (--pg-host ...)", "location",
            ("local", new Toggle(false)), ("remote", new Toggle(true)));
        var pgHost = new Option<string?>("--pg-host") { Description = "Remote PostgreSQL server: DNS name or IP address", HelpName = "host" };
        var pgPort = Number("--pg-port", "Remote PostgreSQL port; default is 5432", Default, "port|default");
        var pgUser = new Option<string?>("--pg-user") { Description = "Remote PostgreSQL role; default is odoo", HelpName = "role|default" };
        var pgSslmode = new Option<string?>("--pg-sslmode")
        {
            Description = "Remote PostgreSQL sslmode: disable, allow, prefer, require, verify-ca, verify-full; default is require",
            HelpName = "mode|default",
        };
        var loginMaxRetry = Number("--login-max-retry", "fail2ban: failed Odoo logins before an address is banned", Default, "N|default");
        var loginFindTime = Duration("--login-find-time", "fail2ban: the window in which those failures count (1m-1d)");
        var loginBan = Duration("--login-ban", "fail2ban: how long an address stays banned (1m-30d)");
        var upgrades = Choice("--unattended-upgrades", "Automatic security updates (unattended-upgrades, no automatic reboot): on or off", "switch",
            ("on", new Toggle(true)), ("off", new Toggle(false)));
        var output = CommandContext.OutputOption();

        var configure = new Command("configure", "Change a host's profile settings: domains and TLS, Odoo tuning and options, PostgreSQL, login bans")
        {
            idOrName, domain, clearDomains, tls, acmeEmail, workers, cronThreads, option, unsetOption, logLevel, databaseManager,
            postgres, pgHost, pgPort, pgUser, pgSslmode, loginMaxRetry, loginFindTime, loginBan, upgrades, output,
        };
        configure.SetAction(async (parse, ct) =>
        {
            var request = new ConfigureHostRequest { Id = parse.GetValue(idOrName) ?? "" };
            var domains = parse.GetValue(domain) ?? [];
            if (domains.Length > 0 && parse.GetValue(clearDomains))
            {
                throw CliException.Usage("--domain and --clear-domains contradict each other; pass the domains to keep, or --clear-domains alone");
            }

            if (domains.Length > 0 || parse.GetValue(clearDomains))
            {
                request.Domains = new StringList { Values = { domains } };
            }

            if (parse.GetValue(tls) is { } tlsMode)
            {
                request.Tls = tlsMode;
            }

            if (parse.GetValue(acmeEmail) is { } email)
            {
                request.AcmeEmail = OrDefault(email);
            }

            if (parse.GetValue(workers) is { } workerCount)
            {
                request.Workers = workerCount;
            }

            if (parse.GetValue(cronThreads) is { } cron)
            {
                request.MaxCronThreads = cron;
            }

            foreach (var pair in parse.GetValue(option) ?? [])
            {
                var equals = pair.IndexOf('=', StringComparison.Ordinal);
                if (equals <= 0)
                {
                    throw CliException.Usage($"--option: '{Printable(pair)}' is not KEY=VALUE (e.g. --option limit_time_cpu=600)");
                }

                var key = pair[..equals];
                if (request.SetOdooOptions.ContainsKey(key))
                {
                    throw CliException.Usage($"--option: '{Printable(key)}' is given more than once; pass each option once");
                }

                request.SetOdooOptions[key] = pair[(equals + 1)..];
            }

            request.UnsetOdooOptions.AddRange((parse.GetValue(unsetOption) ?? []).Distinct(StringComparer.Ordinal));
            if (parse.GetValue(logLevel) is { } level)
            {
                request.LogLevel = OrDefault(level);
            }

            if (parse.GetValue(databaseManager) is { } open)
            {
                request.DatabaseManager = open.On;
            }

            if (parse.GetValue(postgres) is { } remote)
            {
                request.PostgresRemote = remote.On;
            }

            if (parse.GetValue(pgHost) is { } host)
            {
                request.PostgresHost = host;
            }

            if (parse.GetValue(pgPort) is { } port)
            {
                request.PostgresPort = port;
            }

            if (parse.GetValue(pgUser) is { } user)
            {
                request.PostgresUser = OrDefault(user);
            }

            if (parse.GetValue(pgSslmode) is { } sslmode)
            {
                request.PostgresSslmode = OrDefault(sslmode);
            }

            if (parse.GetValue(loginMaxRetry) is { } retry)
            {
                request.LoginMaxRetry = retry;
            }

            if (parse.GetValue(loginFindTime) is { } find)
            {
                request.LoginFindTimeSeconds = find;
            }

            if (parse.GetValue(loginBan) is { } ban)
            {
                request.LoginBanSeconds = ban;
            }

            if (parse.GetValue(upgrades) is { } on)
            {
                request.UnattendedUpgradesOff = !on.On;
            }

            if (IsEmpty(request))
            {
                throw CliException.Usage("nothing to change; pass at least one setting (e.g. --domain erp.example.com); see `fleet host configure --help`");
            }

            using var connection = context.Connect(parse);
            var response = await connection.CallAsync((client, options) => client.ConfigureHostAsync(request, options), idempotent: true, ct);
            var updated = response.Host;
            if ((parse.GetValue(output) ?? OutputFormat.Table) == OutputFormat.Json)
            {
                context.Renderer.Json(
                    new ConfigureJson(response.Changed, HostView.ToJson(updated, includeProfile: true)), OutputJsonContext.Default.ConfigureJson);
                return ExitCodes.Ok;
            }

            context.Renderer.Line(response.Changed
                ? Formats.Invariant($"{updated.Name}: profile changed; desired generation is now {updated.DesiredGeneration} and the agent converges to it")
                : Formats.Invariant($"{updated.Name}: already configured so; nothing changed (desired generation stays {updated.DesiredGeneration})"));
            context.Renderer.HostDetails([.. ProfileView.Details(updated.Profile ?? new HostProfile()).Select(d => ("Profile", d.Label, d.Value))]);
            if (response.Changed)
            {
                context.Renderer.Line($"preview what the agent does with it: fleet host plan {updated.Name}");
            }

            return ExitCodes.Ok;
        });
        context.AddExamples(
            configure,
            "fleet host configure web-01 --domain erp.example.com --domain www.example.com --tls acme --acme-email ops@example.com",
            "fleet host configure web-01 --workers 9 --cron-threads 2 --option limit_time_cpu=600 --option limit_time_real=1200",
            "fleet host configure web-01 --workers auto --unset-option limit_time_cpu --log-level default",
            "fleet host configure web-01 --postgres remote --pg-host db1.example.com --pg-sslmode verify-full",
            "fleet host configure web-01 --login-max-retry 3 --login-find-time 10m --login-ban 1d -o json",
            "",
            "Only the settings given change; the others keep their value. 'auto' lets the agent compute a",
            "value from the host's cores and RAM; 'default' takes the fleet-wide value (Fleet:* on the controllers).",
            "A change bumps the host's desired generation and its agent converges to it; the same settings",
            "again change nothing. See what the agent would do first with: fleet host plan web-01",
            "",
            "The remote PostgreSQL password is deliberately not accepted here: it would sit in shell history",
            "and in the controller's database in clear. It will come with the encrypted secret store; until",
            "then the remote server must accept the host's connections without one.");
        return configure;
    }

    private static bool IsEmpty(ConfigureHostRequest r) =>
        r.Domains is null && !r.HasTls && !r.HasAcmeEmail && !r.HasWorkers && !r.HasMaxCronThreads && r.SetOdooOptions.Count == 0
        && r.UnsetOdooOptions.Count == 0 && !r.HasLogLevel && !r.HasDatabaseManager && !r.HasPostgresRemote && !r.HasPostgresHost
        && !r.HasPostgresPort && !r.HasPostgresUser && !r.HasPostgresSslmode && !r.HasLoginMaxRetry && !r.HasLoginFindTimeSeconds
        && !r.HasLoginBanSeconds && !r.HasUnattendedUpgradesOff;

    /// <summary>"default" is the wire's empty value: back to the fleet or agent default.</summary>
    private static string OrDefault(string value) => value == Default ? "" : value;

    /// <summary>A whole number, or <paramref name="keyword"/> (sent as 0: auto or default).</summary>
    private static Option<int?> Number(string name, string description, string keyword, string helpName) => new(name)
    {
        Description = description,
        HelpName = helpName,
        CustomParser = result =>
        {
            var text = Token(result);
            if (text == keyword)
            {
                return 0;
            }

            if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value > 0)
            {
                return value;
            }

            result.AddError($"{name}: '{Printable(text)}' is not a positive whole number or '{keyword}' (e.g. {name} 4)");
            return null;
        },
    };

    /// <summary>A duration in whole seconds, or "default" (sent as 0).</summary>
    private static Option<int?> Duration(string name, string description) => new(name)
    {
        Description = description + "; default takes the fleet's",
        HelpName = "duration|default",
        CustomParser = result =>
        {
            var text = Token(result);
            if (text == Default)
            {
                return 0;
            }

            if (DurationParser.TryParse(text, name, out var duration, out var error))
            {
                return (int)duration.TotalSeconds;
            }

            result.AddError(error + " or 'default'");
            return null;
        },
    };

    private static Option<T?> Choice<T>(string name, string description, string what, params (string Word, T Value)[] choices)
        where T : struct => new(name)
        {
            Description = description,
            HelpName = string.Join('|', choices.Select(c => c.Word)),
            CustomParser = result =>
            {
                var text = Token(result);
                foreach (var (word, value) in choices)
                {
                    if (text == word)
                    {
                        return value;
                    }
                }

                result.AddError($"{name}: '{Printable(text)}' is not a {what}; use {string.Join(" or ", choices.Select(c => c.Word))}");
                return null;
            },
        };

    private static string Token(ArgumentResult result) => result.Tokens.Count > 0 ? result.Tokens[0].Value : "";

    private static string Printable(string value) =>
        new([.. value.Take(64).Select(c => char.IsControl(c) ? '?' : c)]);
}
