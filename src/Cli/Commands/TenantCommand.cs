using System.CommandLine;
using OdooFleet.Cli.Input;
using OdooFleet.Cli.Output;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Cli.Commands;

/// <summary>`fleet tenant create|clone|list|show|suspend|resume|delete|move`: Odoo databases with their domains, placed on hosts with room.</summary>
internal static class TenantCommand
{
    private const int MaxLimit = 10_000;

    public static Command Create(CommandContext context)
    {
        var tenant = new Command("tenant", "Tenants: one Odoo database each, with its domains, nginx site and certificate, placed on a host with room")
        {
            CreateCreate(context), CreateClone(context), CreateList(context), CreateShow(context),
            CreateStateChange(context, "suspend"), CreateStateChange(context, "resume"), CreateStateChange(context, "delete"),
            CreateMove(context),
        };
        context.AddExamples(
            tenant,
            "fleet tenant create acme --domain acme.erp.example.com --domain erp.acme.com --dry-run",
            "fleet tenant create acme --domain acme.erp.example.com --domain erp.acme.com",
            "fleet tenant clone acme --as acme-staging --domain acme-staging.erp.example.com --neutralize",
            "fleet tenant list --search acme",
            "fleet tenant show acme",
            "fleet tenant suspend acme",
            "fleet tenant resume acme",
            "fleet tenant delete acme --yes",
            "fleet tenant move acme --to th2 --wait");
        return tenant;
    }

    private static Command CreateCreate(CommandContext context)
    {
        var name = new Argument<string>("name") { Description = "The tenant's name: 2-30 lowercase letters, digits and inner hyphens; also its database's name" };
        var domains = new Option<string[]>("--domain")
        {
            Description = "A domain of the tenant (repeat): the first serves and must start with NAME (NAME.example.com or www.NAME.example.com), the others redirect to it",
            HelpName = "domain",
            Required = true,
        };
        var host = new Option<string?>("--host") { Description = "Place on this host (id or name); it must still have room", HelpName = "host" };
        var selector = new Option<string[]>("--selector") { Description = "Only hosts with this label (KEY=VALUE, repeat: all must match)", HelpName = "k=v" };
        var plan = new Option<string?>("--plan") { Description = "What the tenant reserves on its host: small, medium or large [default: small]", HelpName = "plan" };
        var modules = new Option<string?>("--modules") { Description = "Odoo modules to install, comma-separated [default: base]", HelpName = "a,b" };
        var lang = new Option<string?>("--lang") { Description = "Odoo language to load when the database is created, e.g. fr_FR, es_419, sr@latin [default: en_US only]", HelpName = "code" };
        var country = new Option<string?>("--country") { Description = "The main company's country, ISO 3166-1 alpha-2 (e.g. FR), set when the database is created", HelpName = "code" };
        var dryRun = new Option<bool>("--dry-run") { Description = "Only show where placement would put it, and why each host fits or not; change nothing" };
        var output = CommandContext.OutputOption();
        var create = new Command("create", "Place a tenant on a host with room, then its agent creates the database (without demo data), installs the modules and serves its domains")
        {
            name, domains, host, selector, plan, modules, lang, country, dryRun, output,
        };
        create.SetAction(async (parse, ct) =>
        {
            var request = new CreateTenantRequest
            {
                Name = parse.GetValue(name) ?? "",
                Domains = { parse.GetValue(domains) ?? [] },
                Host = parse.GetValue(host) ?? "",
                Plan = parse.GetValue(plan) ?? "",
                DryRun = parse.GetValue(dryRun),
                Lang = parse.GetValue(lang) ?? "",
                Country = parse.GetValue(country) ?? "",
            };
            var localeError = (request.Lang.Length > 0 ? LocaleValidator.CheckLang(request.Lang) : null)
                ?? (request.Country.Length > 0 ? LocaleValidator.CheckCountry(request.Country) : null);
            if (localeError is not null)
            {
                throw CliException.Usage(localeError);
            }

            foreach (var (key, value) in LabelParser.Parse(parse.GetValue(selector) ?? [], "--selector"))
            {
                request.Selector[key] = value;
            }

            if (parse.GetValue(modules) is { } list)
            {
                var names = list.Split(',', StringSplitOptions.TrimEntries);
                if (names.Any(n => n.Length == 0))
                {
                    throw CliException.Usage("--modules: an empty module name; give technical names separated by commas, e.g. --modules sale_management,account");
                }

                request.Modules.AddRange(names);
            }

            using var connection = context.Connect(parse);
            // The controller makes the same request twice a no-op, so a retry after a lost answer is safe.
            var response = await connection.CallAsync((client, options) => client.CreateTenantAsync(request, options), idempotent: true, ct);
            if ((parse.GetValue(output) ?? OutputFormat.Table) == OutputFormat.Json)
            {
                context.Renderer.Json(
                    new TenantCreateJson(
                        request.DryRun, response.Created, response.ChosenHost, response.Summary, response.Generation,
                        response.Tenant is null ? null : TenantView.ToJson(response.Tenant), [.. response.Placement.Select(TenantView.ToJson)]),
                    OutputJsonContext.Default.TenantCreateJson);
                return request.DryRun && response.ChosenHost.Length == 0 ? ExitCodes.Failed : ExitCodes.Ok;
            }

            if (response.Placement.Count > 0)
            {
                context.Renderer.Table(["HOST", "FITS", "HEADROOM", "WHY"], response.Placement.Select(TenantView.ToRow));
            }

            if (request.DryRun)
            {
                context.Renderer.Line($"placement: {response.Summary}");
                context.Renderer.Line("dry run: nothing was created; run again without --dry-run to create it");
                return response.ChosenHost.Length == 0 ? ExitCodes.Failed : ExitCodes.Ok;
            }

            var t = response.Tenant;
            context.Renderer.Line(response.Created
                ? Formats.Invariant($"{t.Name}: placed on {t.HostName} ({t.Plan}); desired generation {response.Generation}: its agent creates database {t.Database}, installs {string.Join(", ", t.Modules)} and serves {t.Url}")
                : $"{t.Name}: {response.Summary} ({TenantView.State(t.State)}, {t.Url})");
            context.Renderer.Line($"state: {TenantView.State(t.State)} (active once the host has converged it; see `fleet tenant show {t.Name}`)");
            return ExitCodes.Ok;
        });
        context.AddExamples(
            create,
            "fleet tenant create acme --domain acme.erp.example.com --dry-run       # where it would go and why",
            "fleet tenant create acme --domain acme.erp.example.com --domain erp.acme.com --plan medium",
            "fleet tenant create acme --domain www.acme.example.com --selector region=eu --modules sale_management,account",
            "fleet tenant create acme --domain acme.erp.example.com --host web-01 -o json",
            "fleet tenant create acme --domain acme.erp.example.com --lang fr_FR --country FR",
            "",
            "Placement picks, among online hosts matching --host or --selector, the one with the most headroom",
            "after reserving the plan's RAM, share of a worker and disk, under the per-host tenant limit; no host",
            "is ever over-committed. Plans: small (64 MiB, 1/20 worker, 1 GiB), medium (256 MiB, 1/4 worker,",
            "5 GiB), large (1 GiB, 1 worker, 20 GiB). The host's Odoo finds the database from the primary",
            "domain's first label (dbfilter ^%d$), so that label is the tenant's name; aliases redirect to it.",
            "The same command again changes nothing; other arguments for an existing name are refused.",
            "Needs the operator role; audited.",
            "",
            "Exit codes: 0 created (or already there with these arguments; dry run: a host fits), 1 refused",
            "(name or domain taken, no host fits), 2 bad input, 5 no such host (or not allowed).");
        return create;
    }

    private static Command CreateClone(CommandContext context)
    {
        var source = new Argument<string>("name") { Description = "The tenant to copy (name or id)" };
        var newName = new Option<string>("--as")
        {
            Description = "The copy's name: 2-30 lowercase letters, digits and inner hyphens; also its database's name",
            HelpName = "new",
            Required = true,
        };
        var domains = new Option<string[]>("--domain")
        {
            Description = "A domain of the copy (repeat): the first serves and must start with NEW (NEW.example.com), the others redirect to it",
            HelpName = "domain",
            Required = true,
        };
        var neutralize = new Option<bool>("--neutralize")
        {
            Description = "Disable the copy's outgoing mail servers, scheduled actions (crons) and payment providers before it serves (Odoo's neutralize)",
        };
        var plan = new Option<string?>("--plan") { Description = "What the copy reserves on its host: small, medium or large [default: the source's plan]", HelpName = "plan" };
        var host = new Option<string?>("--host") { Description = "Only the source's host is accepted (a clone is copied locally); any other host is refused", HelpName = "host" };
        var dryRun = new Option<bool>("--dry-run") { Description = "Only check the names and domains and show whether the source's host has room; change nothing" };
        var output = CommandContext.OutputOption();
        var clone = new Command("clone", "Copy a tenant as a new one on the same host (e.g. a staging copy); with --neutralize its mail, crons and payment providers are off")
        {
            source, newName, domains, neutralize, plan, host, dryRun, output,
        };
        clone.SetAction(async (parse, ct) =>
        {
            var sourceName = parse.GetValue(source) ?? "";
            CheckName(sourceName);
            var request = new CloneTenantRequest
            {
                Source = sourceName,
                Name = parse.GetValue(newName) ?? "",
                Domains = { parse.GetValue(domains) ?? [] },
                Neutralize = parse.GetValue(neutralize),
                Plan = parse.GetValue(plan) ?? "",
                Host = parse.GetValue(host) ?? "",
                DryRun = parse.GetValue(dryRun),
            };
            using var connection = context.Connect(parse);
            // The controller makes the same request twice a no-op, so a retry after a lost answer is safe.
            var response = await connection.CallAsync((client, options) => client.CloneTenantAsync(request, options), idempotent: true, ct);
            if ((parse.GetValue(output) ?? OutputFormat.Table) == OutputFormat.Json)
            {
                context.Renderer.Json(
                    new TenantCreateJson(
                        request.DryRun, response.Created, response.ChosenHost, response.Summary, response.Generation,
                        response.Tenant is null ? null : TenantView.ToJson(response.Tenant), [.. response.Placement.Select(TenantView.ToJson)]),
                    OutputJsonContext.Default.TenantCreateJson);
                return request.DryRun && response.ChosenHost.Length == 0 ? ExitCodes.Failed : ExitCodes.Ok;
            }

            if (response.Placement.Count > 0)
            {
                context.Renderer.Table(["HOST", "FITS", "HEADROOM", "WHY"], response.Placement.Select(TenantView.ToRow));
            }

            if (request.DryRun)
            {
                context.Renderer.Line($"placement: {response.Summary}");
                context.Renderer.Line("dry run: nothing was cloned; run again without --dry-run to clone it");
                return response.ChosenHost.Length == 0 ? ExitCodes.Failed : ExitCodes.Ok;
            }

            var t = response.Tenant;
            context.Renderer.Line(response.Created
                ? Formats.Invariant($"{t.Name}: clone of {t.CloneOf} on {t.HostName} ({t.Plan}); desired generation {response.Generation}: its agent copies database {t.CloneOf} and its filestore as {t.Database} and serves {t.Url}")
                : $"{t.Name}: {response.Summary} ({TenantView.State(t.State)}, {t.Url})");
            context.Renderer.Line($"clone: {TenantView.Clone(t)}");
            context.Renderer.Line($"state: {TenantView.State(t.State)} (active once the host has converged it; see `fleet tenant show {t.Name}`)");
            return ExitCodes.Ok;
        });
        context.AddExamples(
            clone,
            "fleet tenant clone acme --as acme-staging --domain acme-staging.erp.example.com --neutralize",
            "fleet tenant clone acme --as acme-test --domain acme-test.erp.example.com --neutralize --dry-run",
            "fleet tenant clone acme --as acme-copy --domain acme-copy.erp.example.com -o json",
            "",
            "The copy is a new tenant with its own name, database, filestore and domains (the create rules),",
            "on the source's host: its agent copies the source database while the source keeps serving",
            "(pg_dump -Fc, restored in one transaction into a scratch database), gives the copy a fresh",
            "database.uuid, copies the filestore and only then renames the database into place, so an",
            "interrupted clone is started again, never served half-made. The source is not changed.",
            "",
            "--neutralize runs Odoo's `odoo-bin neutralize` on the copy before it serves: outgoing mail servers",
            "and scheduled actions (crons) deactivated, payment providers disabled, database.is_neutralized",
            "set (Odoo shows a 'neutralized' banner). WITHOUT --neutralize THE COPY SENDS REAL MAIL, RUNS REAL",
            "CRONS AND TAKES REAL PAYMENTS like the source: use it only for a true duplicate.",
            "",
            "The same command again changes nothing; other arguments for an existing name are refused. The",
            "source must be active or suspended. Needs the operator role; audited. Delete a copy with",
            "`fleet tenant delete NEW --yes`.",
            "",
            "Exit codes: 0 cloned (or already there with these arguments; dry run: the host has room), 1 refused",
            "(name or domain taken, source being created or deleted, no room on the source's host), 2 bad input",
            "(also --host other than the source's), 5 no such source tenant (or not allowed).");
        return clone;
    }

    private static Command CreateList(CommandContext context)
    {
        var host = new Option<string?>("--host") { Description = "Only tenants on this host (id or name)", HelpName = "host" };
        var state = new Option<string?>("--state") { Description = "Only tenants in this state: creating, active, suspended or deleting", HelpName = "state" };
        var search = new Option<string?>("--search") { Description = "Only tenants whose name or any domain contains this text (case-insensitive)", HelpName = "text" };
        var limit = CommandContext.CountOption("--limit", "At most this many tenants, by name (1-10000) [default: 1000]", 1, MaxLimit, "5000");
        var output = CommandContext.OutputOption();
        var list = new Command("list", "Tenants by name: host, state, plan and primary domain") { host, state, search, limit, output };
        list.SetAction(async (parse, ct) =>
        {
            var request = new ListTenantsRequest
            {
                Host = parse.GetValue(host) ?? "",
                State = ParseState(parse.GetValue(state)),
                Search = parse.GetValue(search) ?? "",
                Limit = parse.GetValue(limit) ?? 0,
            };
            using var connection = context.Connect(parse);
            var response = await connection.CallAsync((client, options) => client.ListTenantsAsync(request, options), idempotent: true, ct);
            if ((parse.GetValue(output) ?? OutputFormat.Table) == OutputFormat.Json)
            {
                context.Renderer.Json(new TenantListJson([.. response.Tenants.Select(TenantView.ToJson)], response.Truncated), OutputJsonContext.Default.TenantListJson);
                return ExitCodes.Ok;
            }

            if (response.Tenants.Count == 0)
            {
                context.Renderer.Line("no tenants match; create one with `fleet tenant create NAME --domain NAME.example.com`");
                return ExitCodes.Ok;
            }

            context.Renderer.Table(["NAME", "HOST", "STATE", "PLAN", "DOMAIN", "CREATED"], response.Tenants.Select(TenantView.ToRow));
            if (response.Truncated)
            {
                context.Renderer.Line(Formats.Invariant($"(more tenants match than the {response.Tenants.Count} shown: narrow with --search or raise --limit)"));
            }

            return ExitCodes.Ok;
        });
        context.AddExamples(
            list,
            "fleet tenant list",
            "fleet tenant list --search acme                 # a part of a name or of any domain",
            "fleet tenant list --host web-01 --state creating",
            "fleet tenant list --limit 10000 -o json | jq -r '.tenants[].primaryDomain'",
            "",
            "Exit codes: 0 listed (also when none match), 2 bad option, 5 no such host (or not allowed).");
        return list;
    }

    private static Command CreateShow(CommandContext context)
    {
        var name = new Argument<string>("name") { Description = "Tenant name or id" };
        var output = CommandContext.OutputOption();
        var show = new Command("show", "One tenant: host, domains, database, sizes, last backup and state") { name, output };
        show.SetAction(async (parse, ct) =>
        {
            var request = new GetTenantRequest { Name = parse.GetValue(name) ?? "" };
            using var connection = context.Connect(parse);
            var tenant = await connection.CallAsync((client, options) => client.GetTenantAsync(request, options), idempotent: true, ct);
            if ((parse.GetValue(output) ?? OutputFormat.Table) == OutputFormat.Json)
            {
                context.Renderer.Json(TenantView.ToJson(tenant), OutputJsonContext.Default.TenantJson);
                return ExitCodes.Ok;
            }

            var details = TenantView.Details(tenant, context.Host.Time.GetUtcNow());
            var width = details.Max(d => d.Label.Length) + 1;
            foreach (var (label, value) in details)
            {
                context.Renderer.Line($"{(label + ":").PadRight(width)} {value}");
            }

            return ExitCodes.Ok;
        });
        context.AddExamples(
            show,
            "fleet tenant show acme",
            "fleet tenant show acme -o json | jq -r .url",
            "",
            "Exit codes: 0 shown, 2 malformed name, 5 no such tenant (or not allowed).");
        return show;
    }

    private static Command CreateStateChange(CommandContext context, string verb)
    {
        var name = new Argument<string>("name") { Description = "Tenant name or id" };
        var output = CommandContext.OutputOption();
        var yes = new Option<bool>("--yes") { Description = "Confirm the deletion (its database and filestore are dropped; a final backup stays on the host)" };
        var command = verb switch
        {
            "suspend" => new Command("suspend", "Serve a maintenance page (HTTP 503, Retry-After) instead of Odoo for the tenant; its database and filestore are kept") { name, output },
            "resume" => new Command("resume", "Serve a suspended tenant from Odoo again") { name, output },
            _ => new Command("delete", "Delete a tenant: its host archives it (final backup), then removes its site, certificate, database and filestore") { name, yes, output },
        };
        command.SetAction(async (parse, ct) =>
        {
            var tenantName = parse.GetValue(name) ?? "";
            CheckName(tenantName);
            if (verb == "delete" && !parse.GetValue(yes))
            {
                throw CliException.Usage(
                    $"--yes: deleting tenant {tenantName} drops its database and filestore (a final backup is kept on its host for the retention period); "
                    + $"confirm with `fleet tenant delete {tenantName} --yes`");
            }

            var request = new TenantActionRequest { Name = tenantName, Confirm = verb == "delete" };
            using var connection = context.Connect(parse);
            // The controller makes the same request twice a no-op, so a retry after a lost answer is safe.
            var response = await connection.CallAsync(
                (client, options) => verb switch
                {
                    "suspend" => client.SuspendTenantAsync(request, options),
                    "resume" => client.ResumeTenantAsync(request, options),
                    _ => client.DeleteTenantAsync(request, options),
                },
                idempotent: true,
                ct);
            if ((parse.GetValue(output) ?? OutputFormat.Table) == OutputFormat.Json)
            {
                context.Renderer.Json(
                    new TenantActionJson(verb, response.Changed, response.Generation, response.Summary, TenantView.ToJson(response.Tenant)),
                    OutputJsonContext.Default.TenantActionJson);
                return ExitCodes.Ok;
            }

            context.Renderer.Line(response.Summary);
            context.Renderer.Line($"state: {TenantView.StateWithPending(response.Tenant)}; follow it with `fleet tenant show {response.Tenant.Name}`");
            return ExitCodes.Ok;
        });
        switch (verb)
        {
            case "suspend":
                context.AddExamples(
                    command,
                    "fleet tenant suspend acme",
                    "fleet tenant suspend acme -o json",
                    "",
                    "The tenant's nginx site answers every request with a small maintenance page, HTTP 503 with",
                    "Retry-After: 3600; Odoo, its database and its filestore are untouched. Like every change of a",
                    "tenant, it goes through its host's desired state: the state is 'suspended' once the host reports",
                    "the converge. Suspending a suspended tenant changes nothing and says so. Needs the operator role; audited.",
                    "",
                    "Exit codes: 0 suspended (or already), 1 refused (being created or deleted), 2 bad input, 5 no such tenant (or not allowed).");
                break;
            case "resume":
                context.AddExamples(
                    command,
                    "fleet tenant resume acme",
                    "",
                    "The tenant's site proxies to Odoo again once its host has converged. Resuming an active tenant",
                    "changes nothing and says so. Needs the operator role; audited.",
                    "",
                    "Exit codes: 0 resumed (or already active), 1 refused (being created or deleted), 2 bad input, 5 no such tenant (or not allowed).");
                break;
            default:
                context.AddExamples(
                    command,
                    "fleet tenant delete acme --yes",
                    "fleet tenant delete acme --yes -o json",
                    "",
                    "Its host first takes a final backup into /var/lib/odoofleet/tenant-archive/NAME-<UTC time>/:",
                    "pg_dump -Fc of the database, a tar of the filestore and manifest.json with the sha256 of each,",
                    "kept for Fleet:TenantArchiveRetentionDays (default 30) days. Then it removes the nginx site and",
                    "certificate, drops the database (ending its connections) and removes the filestore. The tenant",
                    "stays 'deleting' (its domains taken) until the host reports that; an interrupted deletion finishes",
                    "on the next converge. Deleting again changes nothing. Needs the operator role; audited.",
                    "",
                    "Exit codes: 0 deleting (or already), 2 bad input or no --yes (nothing changed), 5 no such tenant (or not allowed).");
                break;
        }

        return command;
    }

    public static readonly TimeSpan DefaultMoveTimeout = TimeSpan.FromMinutes(30);

    private static readonly TimeSpan MovePollInterval = TimeSpan.FromSeconds(1);

    private static Command CreateMove(CommandContext context)
    {
        var name = new Argument<string>("name") { Description = "Tenant name or id" };
        var to = new Option<string>("--to") { Description = "The host to move it to (name or id; `fleet hosts` shows each host's room)", HelpName = "host", Required = true };
        var wait = new Option<bool>("--wait") { Description = "Follow the move until it ends: exit 0 when done, 1 when rolled back, 3 on timeout" };
        var timeout = CommandContext.DurationOption("--timeout", "With --wait: stop waiting after this long (exit 3); the move itself carries on [default: 30m]");
        var output = CommandContext.OutputOption();
        var move = new Command("move", "Move a tenant to another host: backup, restore on the target, verify, switch, then remove it from the source") { name, to, wait, timeout, output };
        move.SetAction(async (parse, ct) =>
        {
            var tenantName = parse.GetValue(name) ?? "";
            CheckName(tenantName);
            var host = parse.GetValue(to) ?? "";
            if (host.Length is 0 or > 128 || host.Any(c => char.IsControl(c) || char.IsWhiteSpace(c)))
            {
                throw CliException.Usage($"--to: '{new string([.. host.Take(64).Select(c => char.IsControl(c) ? '?' : c)])}' is not a host name or id; list hosts with `fleet hosts`");
            }

            var waitTimeout = parse.GetValue(timeout);
            if (waitTimeout is not null && !parse.GetValue(wait))
            {
                throw CliException.Usage($"--timeout only applies with --wait (e.g. fleet tenant move {tenantName} --to {host} --wait --timeout 1h)");
            }

            if (waitTimeout is { } given && given <= TimeSpan.Zero)
            {
                throw CliException.Usage("--timeout: must be positive (e.g. 10m)");
            }

            var request = new MoveTenantRequest { Name = tenantName, ToHost = host };
            using var connection = context.Connect(parse);
            // The same move again changes nothing (and re-tells the host it waits for), so a retry is safe.
            var response = await connection.CallAsync((client, options) => client.MoveTenantAsync(request, options), idempotent: true, ct);
            var json = (parse.GetValue(output) ?? OutputFormat.Table) == OutputFormat.Json;
            var current = response.Move;
            if (!json)
            {
                context.Renderer.Line(response.Summary);
            }

            var exit = ExitCodes.Ok;
            if (parse.GetValue(wait))
            {
                var time = context.Host.Time;
                var deadline = time.GetUtcNow() + (waitTimeout ?? DefaultMoveTimeout);
                var lastStep = current.Step;
                while (current.Step is not (TenantMoveStep.Done or TenantMoveStep.RolledBack))
                {
                    if (time.GetUtcNow() >= deadline)
                    {
                        exit = ExitCodes.Timeout;
                        break;
                    }

                    await Task.Delay(MovePollInterval, time, ct);
                    var tenant = await connection.CallAsync(
                        (client, options) => client.GetTenantAsync(new GetTenantRequest { Name = response.Tenant.Name }, options), idempotent: true, ct);
                    current = tenant.Move?.Id == current.Id ? tenant.Move : current;
                    if (!json && current.Step != lastStep)
                    {
                        context.Renderer.Line($"{Formats.Iso(current.UpdatedAt)} {TenantView.MoveStep(current.Step)}");
                        lastStep = current.Step;
                    }
                }

                if (exit == ExitCodes.Ok && current.Step == TenantMoveStep.RolledBack)
                {
                    exit = ExitCodes.Failed;
                }
            }

            if (json)
            {
                context.Renderer.Json(
                    new TenantMoveJson(current.Id, response.Tenant.Name, current.FromHostName, current.ToHostName, TenantView.MoveStepName(current.Step), current.Error,
                        current.ArchiveBytes, current.ArchiveSha256, response.Started, response.Summary),
                    OutputJsonContext.Default.TenantMoveJson);
            }
            else
            {
                context.Renderer.Line(exit == ExitCodes.Timeout
                    ? $"still {TenantView.MoveStep(current.Step)} after the timeout; the move carries on: follow it with `fleet tenant show {response.Tenant.Name}`"
                    : $"move {current.Id}: {TenantView.Move(current)}");
            }

            return exit;
        });
        context.AddExamples(
            move,
            "fleet tenant move acme --to th2",
            "fleet tenant move acme --to th2 --wait --timeout 20m",
            "fleet tenant move acme --to th2 --wait -o json | jq -r .step",
            "",
            "The move is stored on the controllers first and driven by the hosts' reports, so it survives a",
            "controller restart. Steps: exporting (the source serves the maintenance page, then archives the",
            "database and filestore with a manifest and uploads it with its sha256) -> importing (the target",
            "downloads and checks it, restores database and filestore, and checks https://DOMAIN/web/login",
            "through its own nginx) -> switched (the tenant belongs to the target; the source archives its copy",
            "into its tenant archive and removes it) -> done. Any failure before the switch rolls back: the",
            "target drops what it restored and the source serves the tenant again. Point the tenant's DNS at",
            "the target once it is done. Only an active tenant moves, to a host with room for its plan that runs",
            "a release; one operation per tenant at a time. The same command again changes nothing.",
            "Needs the operator role; audited.",
            "",
            "Exit codes: 0 started (with --wait: done), 1 refused or (with --wait) rolled back, 2 bad input,",
            "3 still moving at --timeout, 5 no such tenant or host (or not allowed).");
        return move;
    }

    /// <summary>A tenant name or id as the controller accepts them: lowercase letters, digits and inner hyphens, at most 63.</summary>
    private static void CheckName(string name)
    {
        if (name.Length is 0 or > 63 || !name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-') || name[0] == '-' || name[^1] == '-')
        {
            throw CliException.Usage(
                $"name: '{new string([.. name.Take(64).Select(c => char.IsControl(c) ? '?' : c)])}' is not a tenant name or id; use lowercase letters, digits and inner hyphens "
                + "(e.g. acme-corp); list them with `fleet tenant list`");
        }
    }

    private static TenantState ParseState(string? text) => text switch
    {
        null or "" => TenantState.Unspecified,
        "creating" => TenantState.Creating,
        "active" => TenantState.Active,
        "suspended" => TenantState.Suspended,
        "deleting" => TenantState.Deleting,
        _ => throw CliException.Usage($"--state: '{new string([.. text.Take(32).Select(c => char.IsControl(c) ? '?' : c)])}' is not a tenant state; use creating, active, suspended or deleting"),
    };
}
