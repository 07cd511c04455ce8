using System.Globalization;

namespace OdooFleet.Agent.Profiles;

/// <summary>What tuning is computed from: host facts, the PostgreSQL topology and optional operator overrides.</summary>
internal sealed record TuningInput(int CpuCores, long MemoryBytes, bool LocalPostgres)
{
    /// <summary>odoo.workers override; null computes it. Checked against RAM, never clamped.</summary>
    public int? Workers { get; init; }

    /// <summary>odoo.max_cron_threads override; null computes it. Checked against RAM, never clamped.</summary>
    public int? MaxCronThreads { get; init; }
}

/// <summary>PostgreSQL settings for a PostgreSQL that shares the host with Odoo.</summary>
internal sealed record PostgresTuning(
    long SharedBuffersBytes, long EffectiveCacheSizeBytes, long MaintenanceWorkMemBytes, long WorkMemBytes, int MaxConnections)
{
    /// <summary>postgresql.conf settings in PostgreSQL's own unit syntax ("512MB"), in a fixed order.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Settings =>
    [
        new("max_connections", MaxConnections.ToString(CultureInfo.InvariantCulture)),
        new("shared_buffers", Tuning.PostgresSize(SharedBuffersBytes)),
        new("effective_cache_size", Tuning.PostgresSize(EffectiveCacheSizeBytes)),
        new("maintenance_work_mem", Tuning.PostgresSize(MaintenanceWorkMemBytes)),
        new("work_mem", Tuning.PostgresSize(WorkMemBytes)),
    ];
}

/// <summary>Every tuning number for one host, and the arithmetic that produced it (for `fleet host plan` and `render`).</summary>
internal sealed record TuningPlan
{
    public required TuningInput Input { get; init; }
    public required long OsReserveBytes { get; init; }
    public required long PostgresBudgetBytes { get; init; }
    public required long OdooBudgetBytes { get; init; }

    /// <summary>How many Odoo processes of <see cref="Tuning.ProcessEstimateBytes"/> the Odoo budget holds.</summary>
    public required int ProcessesRamAllows { get; init; }

    public required int Workers { get; init; }
    public required int MaxCronThreads { get; init; }
    public required long LimitMemoryHard { get; init; }
    public required long LimitMemorySoft { get; init; }
    public required int LimitTimeCpu { get; init; }
    public required int LimitTimeReal { get; init; }
    public required int LimitTimeRealCron { get; init; }
    public required int LimitRequest { get; init; }
    public required int DbMaxConn { get; init; }

    /// <summary>Null when PostgreSQL is remote: the profile then writes no PostgreSQL settings at all.</summary>
    public required PostgresTuning? Postgres { get; init; }

    public required IReadOnlyList<string> Explanation { get; init; }

    /// <summary>HTTP workers, cron workers and the gevent (websocket) process.</summary>
    public int OdooProcesses => Workers + MaxCronThreads + 1;

    /// <summary>The most PostgreSQL connections Odoo opens: each process has its own pool of db_maxconn.</summary>
    public int OdooConnections => OdooProcesses * DbMaxConn;

    /// <summary>odoo.conf options, in the order they are written. The gevent limits equal the worker ones.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> OdooOptions =>
    [
        new("workers", Text(Workers)),
        new("max_cron_threads", Text(MaxCronThreads)),
        new("limit_memory_hard", Text(LimitMemoryHard)),
        new("limit_memory_soft", Text(LimitMemorySoft)),
        new("limit_memory_hard_gevent", Text(LimitMemoryHard)),
        new("limit_memory_soft_gevent", Text(LimitMemorySoft)),
        new("limit_time_cpu", Text(LimitTimeCpu)),
        new("limit_time_real", Text(LimitTimeReal)),
        new("limit_time_real_cron", Text(LimitTimeRealCron)),
        new("limit_request", Text(LimitRequest)),
        new("db_maxconn", Text(DbMaxConn)),
    ];

    private static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>
/// Odoo and PostgreSQL tuning as a pure function of host facts (SEED-ERRATA #6, #7, #8). The rules:
/// <list type="bullet">
/// <item>OS reserve = max(400 MiB, 10 % of RAM): kernel, page cache floor, nginx, the agent and Odoo's prefork master
///   (400, not 512: a "2 GB" VM reports about 1.9 GiB of MemTotal and must still fit one worker with a local PostgreSQL).</item>
/// <item>PostgreSQL budget = max(256 MiB, 25 % of RAM) when PostgreSQL is local, else 0 and no PostgreSQL settings.</item>
/// <item>Odoo budget = RAM - OS reserve - PostgreSQL budget; one Odoo process is estimated at
///   0.8 × 150 MiB + 0.2 × 1024 MiB ≈ 325 MiB (Odoo's deployment docs: 80 % light requests, 20 % heavy).</item>
/// <item>max_cron_threads = 1 on ≤ 2 cores, else 2 (lowered to 1 if only then one HTTP worker fits); workers =
///   min(2 × cores + 1, floor(Odoo budget / 325 MiB) - cron - 1 gevent). Fewer than one worker: the host is too small.</item>
/// <item>RAM is sized by the average: (workers + cron + 1) × 325 MiB ≤ Odoo budget, so the expected resident memory
///   never exceeds RAM. limit_memory_hard = clamp(Odoo budget / (workers + cron + 1), 1024 MiB, 2560 MiB),
///   soft = min(2048 MiB, 80 % of hard), the same for the gevent process. Odoo compares these limits with a
///   process's virtual size (VMS, RLIMIT_AS for hard), and a Python Odoo worker maps ~0.5 GiB before its
///   first request: a share below 1 GiB (small hosts) would kill workers on start, so the caps are floored
///   there while the worker count stays within RAM (SEED-ERRATA #7 taken as "size by RAM", not "cap below VMS").</item>
/// <item>PostgreSQL: shared_buffers = min(8 GiB, budget / 2), effective_cache_size = 50 % of RAM,
///   maintenance_work_mem = clamp(RAM / 32, 64 MB, 1 GB), max_connections = max(100, Odoo's connections + 20),
///   work_mem = clamp((budget - shared_buffers) / max_connections, 4 MB, 64 MB).</item>
/// </list>
/// Overrides that RAM does not allow are errors that say how far to lower them, never silently clamped.
/// </summary>
internal static class Tuning
{
    public const long MiB = 1L << 20;
    public const long GiB = 1L << 30;

    public const long OsReserveMin = 400 * MiB;
    public const long PostgresBudgetMin = 256 * MiB;

    /// <summary>0.8 × 150 MiB + 0.2 × 1024 MiB = 324.8 MiB, rounded up.</summary>
    public const long ProcessEstimateBytes = 325 * MiB;

    /// <summary>Odoo 18's own defaults for limit_memory_hard / limit_memory_soft: a cap, never exceeded.</summary>
    public const long LimitMemoryHardCap = 2560 * MiB;
    public const long LimitMemorySoftCap = 2048 * MiB;

    /// <summary>The lowest hard cap that leaves a Python Odoo worker room for its own virtual size and one heavy request.</summary>
    public const long LimitMemoryHardFloor = 1024 * MiB;

    public const int LimitTimeCpu = 60;
    public const int LimitTimeReal = 120;

    /// <summary>Odoo 18's default: -1 means "use limit_time_real" for cron jobs.</summary>
    public const int LimitTimeRealCron = -1;

    /// <summary>Odoo 18's default (2^16 requests before a worker is recycled).</summary>
    public const int LimitRequest = 65536;

    /// <summary>
    /// Odoo's default pool (64) is per process; 8 is plenty for one request at a time (a worker uses one or two
    /// cursors) and keeps max_connections, and with it PostgreSQL's per-connection memory, bounded.
    /// </summary>
    public const int DbMaxConn = 8;

    /// <summary>Connections kept free for backups, psql, monitoring and the agent (3 of them are superuser-reserved anyway).</summary>
    public const int MaintenanceConnections = 20;

    public const int MaxWorkersOverride = 1024;
    public const int MaxCronThreadsOverride = 64;

    private const long SharedBuffersCap = 8 * GiB;
    private const long MaintenanceWorkMemMin = 64 * MiB;
    private const long MaintenanceWorkMemMax = GiB;
    private const long WorkMemMin = 4 * MiB;
    private const long WorkMemMax = 64 * MiB;
    private const int MinMaxConnections = 100;

    // Deliberately not set: random_page_cost / effective_io_concurrency depend on SSD vs disk, a fact the agent does
    // not collect; wal_buffers (auto = shared_buffers / 32) and checkpoint_completion_target (0.9 since PostgreSQL 14)
    // are already right by default.

    /// <summary>The plan for a host, or <see cref="SpecValidationException"/> naming the input, the rule and the fix.</summary>
    public static TuningPlan Compute(TuningInput input)
    {
        var inputErrors = ValidateInput(input);
        if (inputErrors.Count > 0)
        {
            throw new SpecValidationException(inputErrors);
        }

        var ram = input.MemoryBytes;
        var cores = input.CpuCores;
        var why = new List<string>
        {
            $"host: {cores} CPU core{(cores == 1 ? "" : "s")}, {Ram(ram)} RAM, PostgreSQL {(input.LocalPostgres ? "on this host" : "remote")}",
        };

        var os = OsReserve(ram);
        why.Add($"OS reserve = max(400 MiB, 10% of {M(ram)} MiB = {M(ram / 10)} MiB) = {M(os)} MiB");
        var pg = PostgresBudget(ram, input.LocalPostgres);
        why.Add(input.LocalPostgres
            ? $"PostgreSQL budget = max(256 MiB, 25% of {M(ram)} MiB = {M(ram / 4)} MiB) = {M(pg)} MiB"
            : "PostgreSQL budget = 0 (remote PostgreSQL: no PostgreSQL settings on this host)");
        var odoo = ram - os - pg;
        why.Add($"Odoo budget = {M(ram)} - {M(os)} - {M(pg)} = {M(odoo)} MiB");
        var processes = ProcessesFor(odoo);
        why.Add("process estimate = 0.8 × 150 MiB + 0.2 × 1024 MiB ≈ 325 MiB (Odoo deployment docs: 80% light, 20% heavy requests)");
        why.Add($"processes RAM allows = floor({M(odoo)} / 325) = {processes}");

        var errors = new List<string>();
        if (processes < 3)
        {
            throw new SpecValidationException([TooSmall(input, os, pg, odoo)]);
        }

        int cron;
        if (input.MaxCronThreads is { } cronOverride)
        {
            if (cronOverride + 2 > processes)
            {
                errors.Add(Overcommit(input, "odoo.max_cron_threads", cronOverride, 1, cronOverride, odoo, processes - 2));
            }

            cron = cronOverride;
            why.Add($"max_cron_threads = {cron} (override odoo.max_cron_threads)");
        }
        else
        {
            var byCores = cores <= 2 ? 1 : 2;
            cron = Math.Min(byCores, processes - 2);
            why.Add(cron == byCores
                ? $"max_cron_threads = {cron} ({(cores <= 2 ? "2 cores or fewer" : "more than 2 cores")})"
                : $"max_cron_threads = {cron} (2 for more than 2 cores, lowered so that one HTTP worker fits)");
        }

        var cpuWorkers = (2 * cores) + 1;
        int workers;
        if (input.Workers is { } workersOverride)
        {
            if (errors.Count == 0 && workersOverride + cron + 1 > processes)
            {
                errors.Add(Overcommit(input, "odoo.workers", workersOverride, workersOverride, cron, odoo, processes - cron - 1));
            }

            workers = workersOverride;
            why.Add($"workers = {workers} (override odoo.workers; 2 × {cores} + 1 = {cpuWorkers} by CPU, RAM allows {processes - cron - 1})");
        }
        else
        {
            workers = Math.Min(cpuWorkers, processes - cron - 1);
            why.Add($"workers = min(2 × {cores} + 1 = {cpuWorkers}, {processes} - {cron} cron - 1 gevent = {processes - cron - 1}) = {workers}");
        }

        if (errors.Count > 0)
        {
            throw new SpecValidationException(errors);
        }

        var processCount = workers + cron + 1;
        var hard = Math.Clamp(FloorMiB(odoo / processCount), LimitMemoryHardFloor, LimitMemoryHardCap);
        why.Add($"limit_memory_hard = clamp(floor({M(odoo)} MiB / ({workers} + {cron} + 1)) = {M(odoo / processCount)} MiB, 1024 MiB, 2560 MiB) = {M(hard)} MiB "
            + "(also limit_memory_hard_gevent; a virtual-size cap: floored so a worker can start and serve a heavy request)");
        var soft = Math.Min(LimitMemorySoftCap, FloorMiB(hard / 10 * 8));
        why.Add($"limit_memory_soft = min(2048 MiB, 80% of {M(hard)} MiB) = {M(soft)} MiB (also limit_memory_soft_gevent; a worker above it is recycled after its request)");
        why.Add($"check: {M(os)} + {M(pg)} + {processCount} × 325 MiB expected = {M(os + pg + (processCount * ProcessEstimateBytes))} MiB ≤ {M(ram)} MiB RAM");
        why.Add($"limit_time_cpu = {LimitTimeCpu} s, limit_time_real = {LimitTimeReal} s, limit_time_real_cron = {LimitTimeRealCron} "
            + $"(Odoo 18 default: use limit_time_real), limit_request = {LimitRequest} (Odoo 18 default)");
        var connections = processCount * DbMaxConn;
        why.Add($"db_maxconn = {DbMaxConn} per process: Odoo opens at most {processCount} × {DbMaxConn} = {connections} PostgreSQL connections");

        PostgresTuning? postgres = null;
        if (input.LocalPostgres)
        {
            postgres = PostgresFor(ram, pg, connections, why);
        }
        else
        {
            why.Add($"remote PostgreSQL: its max_connections must leave room for {connections} connections from this host");
        }

        return new TuningPlan
        {
            Input = input,
            OsReserveBytes = os,
            PostgresBudgetBytes = pg,
            OdooBudgetBytes = odoo,
            ProcessesRamAllows = processes,
            Workers = workers,
            MaxCronThreads = cron,
            LimitMemoryHard = hard,
            LimitMemorySoft = soft,
            LimitTimeCpu = LimitTimeCpu,
            LimitTimeReal = LimitTimeReal,
            LimitTimeRealCron = LimitTimeRealCron,
            LimitRequest = LimitRequest,
            DbMaxConn = DbMaxConn,
            Postgres = postgres,
            Explanation = why,
        };
    }

    /// <summary>A size in PostgreSQL's unit syntax: whole gigabytes as "2GB", otherwise megabytes ("512MB").</summary>
    public static string PostgresSize(long bytes) => bytes % GiB == 0
        ? (bytes / GiB).ToString(CultureInfo.InvariantCulture) + "GB"
        : (bytes / MiB).ToString(CultureInfo.InvariantCulture) + "MB";

    private static List<string> ValidateInput(TuningInput input)
    {
        var errors = new List<string>();
        if (input.CpuCores < 1)
        {
            errors.Add($"facts.cpu_cores: {input.CpuCores} is not a core count (at least 1); the agent's facts are wrong, re-run fact collection");
        }

        if (input.MemoryBytes <= 0)
        {
            errors.Add($"facts.memory_bytes: {input.MemoryBytes} is not a memory size (more than 0); the agent's facts are wrong, re-run fact collection");
        }

        if (input.Workers is { } workers and (< 1 or > MaxWorkersOverride))
        {
            errors.Add($"odoo.workers: {workers} is outside 1-{MaxWorkersOverride} (0 would run Odoo threaded, without worker limits or a gevent process); "
                + "remove the override to use the computed value");
        }

        if (input.MaxCronThreads is { } cron and (< 1 or > MaxCronThreadsOverride))
        {
            errors.Add($"odoo.max_cron_threads: {cron} is outside 1-{MaxCronThreadsOverride} (scheduled actions need at least one cron worker); "
                + "remove the override to use the computed value");
        }

        return errors;
    }

    private static long OsReserve(long ram) => Math.Max(OsReserveMin, ram / 10);

    private static long PostgresBudget(long ram, bool local) => local ? Math.Max(PostgresBudgetMin, ram / 4) : 0;

    private static int ProcessesFor(long odooBudget) => odooBudget <= 0 ? 0 : (int)Math.Min(int.MaxValue, odooBudget / ProcessEstimateBytes);

    private static PostgresTuning PostgresFor(long ram, long budget, int odooConnections, List<string> why)
    {
        var maxConnections = Math.Max(MinMaxConnections, odooConnections + MaintenanceConnections);
        why.Add($"PostgreSQL max_connections = max(100, {odooConnections} + {MaintenanceConnections} maintenance) = {maxConnections}");
        var shared = Math.Min(SharedBuffersCap, FloorMiB(budget / 2));
        why.Add($"shared_buffers = min(8 GiB, {M(budget)} MiB / 2) = {PostgresSize(shared)}");
        var cache = FloorMiB(ram / 2);
        why.Add($"effective_cache_size = 50% of {M(ram)} MiB = {PostgresSize(cache)}");
        var maintenance = Math.Clamp(FloorMiB(ram / 32), MaintenanceWorkMemMin, MaintenanceWorkMemMax);
        why.Add($"maintenance_work_mem = clamp({M(ram)} MiB / 32 = {M(ram / 32)} MiB, 64 MiB, 1 GiB) = {PostgresSize(maintenance)}");
        var work = Math.Clamp(FloorMiB((budget - shared) / maxConnections), WorkMemMin, WorkMemMax);
        why.Add($"work_mem = clamp(({M(budget)} - {M(shared)}) MiB / {maxConnections} = {M((budget - shared) / maxConnections)} MiB, 4 MiB, 64 MiB) = {PostgresSize(work)}");
        return new PostgresTuning(shared, cache, maintenance, work, maxConnections);
    }

    private static string Overcommit(TuningInput input, string field, int value, int workers, int cron, long odoo, int atMost)
    {
        var processes = workers + cron + 1;
        var fix = atMost >= 1 ? $"lower {field} to at most {atMost} or add memory" : $"remove the {field} override or add memory";
        return $"{field}: {value} needs {workers} + {cron} cron + 1 gevent processes × 325 MiB = {M(processes * ProcessEstimateBytes)} MiB "
            + $"but {M(odoo)} MiB are available for Odoo on this host ({Ram(input.MemoryBytes)} RAM, {(input.LocalPostgres ? "local" : "remote")} PostgreSQL); {fix}";
    }

    private static string TooSmall(TuningInput input, long os, long pg, long odoo)
    {
        var need = 3 * ProcessEstimateBytes;
        var fix = $"give the host at least {Ram(MinimumRam(input.LocalPostgres))} RAM";
        if (input.LocalPostgres)
        {
            fix += $" or move PostgreSQL to another host (then {Ram(MinimumRam(false))} is enough)";
        }

        var after = input.LocalPostgres ? $"{M(os)} MiB OS reserve and {M(pg)} MiB for the local PostgreSQL" : $"{M(os)} MiB OS reserve";
        return $"host: {Ram(input.MemoryBytes)} RAM leaves {Math.Max(0, M(odoo))} MiB for Odoo after {after}, but the smallest Odoo "
            + $"(1 worker + 1 cron + 1 gevent processes × 325 MiB) needs {M(need)} MiB; {fix}";
    }

    /// <summary>The least RAM (whole MiB) whose Odoo budget holds 3 processes; the budget only grows with RAM.</summary>
    private static long MinimumRam(bool localPostgres)
    {
        var ram = 3 * ProcessEstimateBytes;
        while (ram - OsReserve(ram) - PostgresBudget(ram, localPostgres) < 3 * ProcessEstimateBytes)
        {
            ram += MiB;
        }

        return ram;
    }

    private static long FloorMiB(long bytes) => bytes / MiB * MiB;

    private static long M(long bytes) => bytes / MiB;

    private static string Ram(long bytes) => bytes % GiB == 0
        ? $"{bytes / GiB} GiB"
        : $"{M(bytes)} MiB";
}
