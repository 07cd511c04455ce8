namespace OdooFleet.Agent.Cli;

/// <summary>Entry point: parses argv, prints help, dispatches to a command.</summary>
internal static class AgentCli
{
    public static readonly IReadOnlyDictionary<string, IReadOnlyList<OptionSpec>> Commands = new Dictionary<string, IReadOnlyList<OptionSpec>>
    {
        ["enroll"] =
        [
            new("controller", TakesValue: true, Repeatable: true),
            new("token", TakesValue: true),
            new("ca-sha256", TakesValue: true),
            new("ca-file", TakesValue: true),
            new("name", TakesValue: true),
            new("config", TakesValue: true),
            new("force", TakesValue: false),
        ],
        ["run"] = [new("config", TakesValue: true)],
        ["converge"] = [new("config", TakesValue: true), new("spec", TakesValue: true), new("check", TakesValue: false), new("diff", TakesValue: false)],
        ["render"] =
        [
            new("out", TakesValue: true),
            new("spec", TakesValue: true),
            new("cores", TakesValue: true),
            new("memory", TakesValue: true),
            new("domain", TakesValue: true, Repeatable: true),
            new("os", TakesValue: true),
        ],
        ["version"] = [],
    };

    public const string Usage = """
        odoofleet-agent: keeps this host converged to the desired state the OdooFleet controller holds.

        Usage:
          odoofleet-agent enroll --controller https://HOST:PORT [--controller URL2 ...] --token TOKEN
                                 (--ca-sha256 HEX | --ca-file CA.pem) [--name NAME]
                                 [--config /etc/odoofleet/agent.json] [--force]
              Registers this host with the controller using a single-use token from `fleet token create`:
              makes a private key here, sends a certificate request, and writes the key, the client
              certificate and the fleet CA to agent-identity.pem beside the config (both mode 0600).
              --ca-sha256 is the ca_sha256 `fleet token create` prints (64 hex digits, ':' allowed);
              the controller must present that CA and a certificate from it for the URL's host name.
              --ca-file gives the fleet CA certificate itself instead. --force replaces an existing enrollment.
          odoofleet-agent run [--config /etc/odoofleet/agent.json]
              Runs the agent service (normally started by systemd: odoofleet-agent.service).
          odoofleet-agent converge [--check] [--diff] [--config /etc/odoofleet/agent.json] [--spec FILE.json]
              Converges this host once to the last fetched spec (/var/lib/odoofleet/spec.json) or to
              FILE.json (a fleet.v1.HostSpec in protobuf JSON) and prints what changed.
              --check only observes and compares: prints what would change (files as unified diffs,
              secrets blanked) and touches nothing. --diff also prints diffs when applying.
          odoofleet-agent render --out DIR [--spec FILE.json] [--cores N] [--memory SIZE] [--domain NAME ...] [--os ID:VERSION]
              Writes every file the Odoo 18 profile would manage under DIR at its absolute path (DIR/etc/odoo.conf,
              DIR/etc/nginx/sites-available/odoo, ...), secrets blanked, and prints how it sized the host
              (workers, memory limits, PostgreSQL settings). Uses this machine's facts unless --cores/--memory/--os
              say otherwise, and the cached or given spec. Touches nothing outside DIR.
              Example: odoofleet-agent render --out /tmp/plan --cores 4 --memory 8G --domain erp.example.com
          odoofleet-agent version

        Options may also be written --name=value. Every command accepts --help.

        Exit codes:
          0 success                          5 no controller reachable
          1 converge failed / runtime error  6 config or spec file missing or invalid
          2 usage error                      7 controller rejected the enrollment request
          3 already enrolled (use --force)   8 another converge is running
          4 token refused (invalid, expired or already used)
          9 --check: changes are pending (the host differs from its spec)
         10 controller not trusted: its certificate does not match --ca-sha256/--ca-file,
            or the identity it returned failed its check
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        ParsedArgs parsed;
        try
        {
            parsed = ArgParser.Parse(args, Commands);
        }
        catch (UsageException e)
        {
            await Console.Error.WriteLineAsync($"error: {e.Message}");
            return ExitCodes.Usage;
        }

        if (parsed.Help)
        {
            Console.WriteLine(Usage);
            return ExitCodes.Ok;
        }

        using var cts = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cts.Cancel();
        };

        try
        {
            return parsed.Command switch
            {
                "enroll" => await EnrollCommand.RunAsync(parsed, cts.Token),
                "run" => await RunCommand.RunAsync(parsed),
                "converge" => await ConvergeCommand.RunAsync(parsed, cts.Token),
                "render" => await RenderCommand.RunAsync(parsed, cts.Token),
                _ => PrintVersion(),
            };
        }
        catch (UsageException e)
        {
            await Console.Error.WriteLineAsync($"error: {e.Message}");
            return ExitCodes.Usage;
        }
        catch (Configuration.ConfigException e)
        {
            await Console.Error.WriteLineAsync($"error: {e.Message}");
            return ExitCodes.ConfigInvalid;
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync("interrupted");
            return ExitCodes.Failed;
        }
    }

    private static int PrintVersion()
    {
        Console.WriteLine(Facts.FactCollector.AgentVersion);
        return ExitCodes.Ok;
    }
}
