using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace OdooFleet.Controller.Domain;

internal enum TenantState
{
    Creating,
    Active,
    Suspended,
    Deleting,
}

/// <summary>What the controller wants a tenant to be on its host (the TenantSpec state).</summary>
internal enum TenantDesiredState
{
    Active,
    Suspended,
    Absent,
}

/// <summary>
/// What one tenant of a plan reserves on its host. Workers are shared by every database the
/// host's Odoo serves, so a tenant reserves a share of one, in thousandths (50 = one worker per 20 tenants).
/// </summary>
internal sealed record TenantPlan(string Name, long MemoryMiB, int MilliWorkers, long DiskMiB, string Summary)
{
    public static readonly TenantPlan Small = new("small", 64, 50, 1024, "64 MiB RAM, 1/20 of a worker, 1 GiB disk");
    public static readonly TenantPlan Medium = new("medium", 256, 250, 5120, "256 MiB RAM, 1/4 of a worker, 5 GiB disk");
    public static readonly TenantPlan Large = new("large", 1024, 1000, 20480, "1 GiB RAM, 1 worker, 20 GiB disk");

    public static IReadOnlyList<TenantPlan> All { get; } = [Small, Medium, Large];

    public static TenantPlan? Find(string name) => All.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.Ordinal));
}

/// <summary>A tenant as the tenants table keeps it.</summary>
internal sealed record TenantRecord(
    string Id,
    string Name,
    string HostId,
    string HostName,
    string Plan,
    TenantState State,
    string DatabaseName,
    string PrimaryDomain,
    IReadOnlyList<string> Aliases,
    IReadOnlyList<string> Modules,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt)
{
    /// <summary>Database size the host's agent last reported (null = not reported yet).</summary>
    public long? DatabaseBytes { get; init; }

    /// <summary>Filestore size the host's agent last reported (null = not reported yet).</summary>
    public long? FilestoreBytes { get; init; }

    /// <summary>When the host's agent measured <see cref="DatabaseBytes"/> and <see cref="FilestoreBytes"/> (null = never).</summary>
    public DateTimeOffset? SizesMeasuredAt { get; init; }

    /// <summary>Newest backup of the tenant's database (null = none yet).</summary>
    public DateTimeOffset? LastBackupAt { get; init; }

    /// <summary>Language loaded at creation (null = Odoo's en_US only).</summary>
    public string? Lang { get; init; }

    /// <summary>Country of the main company, set at creation (null = none).</summary>
    public string? Country { get; init; }

    /// <summary>What its host's spec asks for; <see cref="State"/> follows once the host reports the generation that carries it.</summary>
    public TenantDesiredState DesiredState { get; init; } = TenantDesiredState.Active;

    /// <summary>Host specs only: the tenant is moving away from this host (suspend, archive, upload).</summary>
    public TenantMoveOut? MoveOut { get; init; }

    /// <summary>Host specs only: the tenant is moving to this host (restore from the archive, verify).</summary>
    public TenantMoveIn? MoveIn { get; init; }

    /// <summary>Its latest move (null = never moved); `fleet tenant show` says how it stands.</summary>
    public TenantMoveRecord? Move { get; init; }

    /// <summary>The state the tenant is on its way to, or null when its host has caught up (creating and deleting are their own states).</summary>
    /// <summary>The tenant it started as a copy of (null = created empty).</summary>
    public string? CloneOf { get; init; }

    /// <summary>A clone whose outgoing mail, crons and payment providers were disabled (Odoo's neutralize).</summary>
    public bool Neutralize { get; init; }

    public TenantState? PendingState => (State, DesiredState) switch
    {
        (TenantState.Active, TenantDesiredState.Suspended) => TenantState.Suspended,
        (TenantState.Suspended, TenantDesiredState.Active) => TenantState.Active,
        _ => null,
    };
}

/// <summary>One tenant's sizes as its host's agent measured them (bytes).</summary>
internal sealed record TenantSizeRecord(string Name, long DatabaseBytes, long FilestoreBytes)
{
    /// <summary>1 PiB: more than any one Odoo database or filestore; a larger value is a bug or a lie.</summary>
    public const long MaxBytes = 1L << 50;

    /// <summary>Tenants in one report at most (a host never carries more).</summary>
    public const int MaxPerReport = 10_000;
}

/// <summary>
/// What a host's size report did: <see cref="Foreign"/> names tenants placed on another host (then
/// nothing was stored), <see cref="Unknown"/> names no tenant has (deleted meanwhile: ignored),
/// <see cref="Recorded"/> counts the tenants whose sizes were stored (a report older than the stored one is not).
/// </summary>
internal sealed record TenantSizesOutcome(IReadOnlyList<string> Foreign, int Recorded, IReadOnlyList<string> Unknown);

/// <summary>What a caller asks for when creating a tenant, before placement.</summary>
internal sealed record TenantRequest(
    string Name,
    IReadOnlyList<string> Domains,
    string Plan,
    string? Host,
    IReadOnlyDictionary<string, string> Selector,
    IReadOnlyList<string> Modules)
{
    public string PrimaryDomain => Domains[0];

    /// <summary>
    /// A clone: the tenant whose database and filestore it starts as (on that tenant's host). Left out
    /// of the stored request when null, so requests stored before clones existed still compare equal.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public string? CloneOf { get; init; }

    /// <summary>With <see cref="CloneOf"/>: disable the copy's outgoing mail, crons and payment providers.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool Neutralize { get; init; }

    public IReadOnlyList<string> Aliases => [.. Domains.Skip(1)];

    /// <summary>Odoo language loaded at creation (odoo-bin --load-language), e.g. fr_FR; null = Odoo's en_US only.</summary>
    // Left out of the stored request when unset, so requests stored before it existed still compare equal.
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public string? Lang { get; init; }

    /// <summary>ISO 3166-1 alpha-2 code of the main company's country, set at creation; null = none.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public string? Country { get; init; }
}

/// <summary>
/// The grammars of what a tenant is made of. Each value ends up in a file or command on a host
/// (nginx server_name, odoo.conf, a SQL identifier, a filestore path, odoo-bin -i), so the
/// grammars are strict allow-lists: no quote, space, slash, dot segment, semicolon or newline can pass.
/// </summary>
internal static partial class TenantRules
{
    public const int MaxDomains = 10;
    public const int MaxModules = 50;
    public const string DefaultPlan = "small";
    public const string DefaultModules = "base";

    /// <summary>Names PostgreSQL or Odoo keep for themselves; a tenant database never takes them.</summary>
    private static readonly HashSet<string> ReservedDatabaseNames = new(StringComparer.Ordinal)
    {
        "postgres", "template0", "template1", "odoo", "odoofleet", "admin", "public", "www",
    };

    /// <summary>
    /// The database of a tenant is named after it. One Odoo serves every tenant of a host, and picks
    /// a request's database with dbfilter ^%d$ (the profile's default): %d is the first label of the
    /// host name the request came for (the second when the first is "www"), so a tenant's primary
    /// domain starts with its name (acme.erp.example.com, www.acme.example.com); its aliases only
    /// redirect there at nginx and never reach Odoo. Tenant names are DNS labels, so every one is
    /// also a valid Odoo database name and its own %d.
    /// </summary>
    public static string DatabaseNameOf(string tenantName) => tenantName;

    /// <summary>Odoo's %d of a host name: the first label, or the second after "www" (odoo/http.py db_filter).</summary>
    public static string DbFilterLabelOf(string domain)
    {
        var labels = domain.Split('.');
        return labels[0] == "www" && labels.Length > 1 ? labels[1] : labels[0];
    }

    public static string? CheckName(string name)
    {
        if (NamePattern().IsMatch(name) && !ReservedDatabaseNames.Contains(DatabaseNameOf(name)))
        {
            return null;
        }

        var hint = NamePattern().IsMatch(name.ToLowerInvariant()) ? $" (write it in lowercase: {name.ToLowerInvariant()})" : "";
        return ReservedDatabaseNames.Contains(DatabaseNameOf(name))
            ? $"name: '{name}' is reserved (PostgreSQL or Odoo uses it); pick another name, e.g. {name}-erp"
            : $"name: '{ProfileRules.Printable(name)}' is not a tenant name{hint}; use 2-30 lowercase letters, digits and inner hyphens, "
              + "starting with a letter (it is the database name); e.g. fleet tenant create acme-corp --domain erp.acme.com";
    }

    /// <summary>A database name as a tenant maps to it (see <see cref="DatabaseNameOf"/>).</summary>
    public static bool IsDatabaseName(string value) => CheckName(value) is null;

    public static string? CheckModule(string module) => ModulePattern().IsMatch(module)
        ? null
        : $"modules: '{ProfileRules.Printable(module)}' is not an Odoo module name; use the technical names, lowercase letters, digits and '_', "
          + "comma-separated (e.g. --modules sale_management,account)";

    /// <summary>Every error in the request, each naming the field, the rule and a fix; empty when valid.</summary>
    public static IReadOnlyList<string> Validate(TenantRequest request)
    {
        var errors = new List<string>();
        void Add(string? error)
        {
            if (error is not null)
            {
                errors.Add(error);
            }
        }

        Add(CheckName(request.Name));
        if (request.Domains.Count == 0)
        {
            errors.Add("domain: at least one is required (the first serves, the others redirect to it); e.g. --domain erp.acme.com --domain acme.example.net");
        }
        else if (request.Domains.Count > MaxDomains)
        {
            errors.Add($"domain: at most {MaxDomains} per tenant (got {request.Domains.Count}); keep the primary and its most used aliases");
        }

        foreach (var domain in request.Domains.Take(MaxDomains + 1))
        {
            Add(ProfileRules.CheckDomain(domain));
        }

        if (request.Domains.Count > 0 && ProfileRules.IsDomain(request.Domains[0]) && CheckName(request.Name) is null
            && DbFilterLabelOf(request.Domains[0]) != request.Name)
        {
            errors.Add($"domain: the primary domain '{request.Domains[0]}' must start with the tenant name ({request.Name}.example.com or www.{request.Name}.example.com): "
                + $"the host's Odoo picks the database from that label (dbfilter ^%d$); e.g. --domain {request.Name}.erp.example.com --domain {request.Domains[0]} (the second redirects to the first)");
        }

        foreach (var twice in request.Domains.GroupBy(d => d, StringComparer.Ordinal).Where(g => g.Count() > 1).Take(3))
        {
            errors.Add($"domain: '{ProfileRules.Printable(twice.Key)}' is given more than once; list each domain once (the first is the primary)");
        }

        if (TenantPlan.Find(request.Plan) is null)
        {
            errors.Add($"plan: '{ProfileRules.Printable(request.Plan)}' is not a plan; use one of {string.Join(", ", TenantPlan.All.Select(p => p.Name))} (e.g. --plan small)");
        }

        if (request.Host is not null && !Validation.IsHostName(request.Host))
        {
            errors.Add($"host: '{ProfileRules.Printable(request.Host)}' is not a host name or id; see `fleet hosts` (e.g. --host web-01)");
        }

        if (request.Host is not null && request.Selector.Count > 0)
        {
            errors.Add("host: --host and --selector both choose hosts; give one of them");
        }

        errors.AddRange(Labels.Validate(request.Selector).Select(e => e.Replace("label", "selector", StringComparison.Ordinal)));
        if (request.Modules.Count > MaxModules)
        {
            errors.Add($"modules: at most {MaxModules} (got {request.Modules.Count}); install the rest later from Odoo");
        }

        foreach (var module in request.Modules.Take(MaxModules + 1))
        {
            Add(CheckModule(module));
        }

        if (request.Lang is { } lang)
        {
            Add(CheckLang(lang));
        }

        if (request.Country is { } country)
        {
            Add(CheckCountry(country));
        }

        if (request.CloneOf is { } source)
        {
            Add(CheckName(source) is null ? null : $"source: '{ProfileRules.Printable(source)}' is not a tenant name; see `fleet tenant list` (e.g. fleet tenant clone acme --as acme-staging ...)");
            if (source == request.Name)
            {
                errors.Add($"as: the clone needs a name of its own, not its source's ({source}); e.g. --as {source}-staging");
            }
        }
        else if (request.Neutralize)
        {
            errors.Add("neutralize: only a clone is neutralized; use fleet tenant clone SOURCE --as NAME --neutralize");
        }

        return errors;
    }

    /// <summary>An Odoo language code: language, optional _REGION (two letters or three digits), optional @script.</summary>
    public static string? CheckLang(string lang) => LangPattern().IsMatch(lang)
        ? null
        : $"lang: '{ProfileRules.Printable(lang)}' is not an Odoo language code; use language_REGION as Odoo names them, e.g. --lang fr_FR, --lang es_419 or --lang sr@latin";

    public static string? CheckCountry(string country) => IsoCountries.Contains(country)
        ? null
        : IsoCountries.Contains(country.ToUpperInvariant())
            ? $"country: write the code in capitals: --country {country.ToUpperInvariant()}"
            : $"country: '{ProfileRules.Printable(country)}' is not an ISO 3166-1 alpha-2 country code; use two capital letters, e.g. --country FR, --country US or --country GB";

    /// <summary>
    /// A list/search filter: free text, bounded and without control characters (it is a query
    /// parameter, never spliced into SQL, but it is echoed in errors and logs).
    /// </summary>
    public static string? CheckSearch(string text) =>
        text.Length <= 100 && !text.Any(UntrustedText.IsLineBreakOrControl)
            ? null
            : "search: at most 100 characters without control characters; e.g. --search acme";

    // 2-30: a DNS label (so it can be %d of a domain) that starts with a letter, without "--"
    // (punycode's xn-- and readability); 30 so the host's nginx site "t_<name>" fits its 32.
    [GeneratedRegex(@"^[a-z](?!.*--)[a-z0-9-]{0,28}[a-z0-9]\z")]
    private static partial Regex NamePattern();

    [GeneratedRegex(@"^[a-z][a-z0-9_]{0,63}\z")]
    private static partial Regex ModulePattern();

    // fr_FR, es_419, sr@latin, sr@Cyrl, kab_DZ: what Odoo 18's res.lang codes look like, and nothing else.
    [GeneratedRegex(@"^[a-z]{2,3}(?:_(?:[A-Z]{2}|[0-9]{3}))?(?:@[A-Za-z]{4,8})?\z")]
    private static partial Regex LangPattern();
}
