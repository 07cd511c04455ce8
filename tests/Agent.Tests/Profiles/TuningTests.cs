using OdooFleet.Agent.Profiles;

namespace OdooFleet.Agent.Tests.Profiles;

public sealed class TuningTests
{
    private const long MiB = Tuning.MiB;
    private const long GiB = Tuning.GiB;

    [Theory]
    // cores, RAM MiB, local PG, workers, cron, hard MiB, soft MiB, max_connections, shared_buffers, effective_cache_size, maintenance_work_mem, work_mem
    [InlineData(1, 2048, true, 1, 1, 1024, 819, 100, "256MB", "1GB", "64MB", "4MB")]
    [InlineData(2, 2048, true, 1, 1, 1024, 819, 100, "256MB", "1GB", "64MB", "4MB")]
    [InlineData(4, 2048, true, 1, 1, 1024, 819, 100, "256MB", "1GB", "64MB", "4MB")]
    // A "2 GB" VM: MemTotal 1945600 kB (1900 MiB), the kernel keeps the rest.
    [InlineData(2, 1900, true, 1, 1, 1024, 819, 100, "237MB", "950MB", "64MB", "4MB")]
    [InlineData(2, 4096, true, 5, 1, 1024, 819, 100, "512MB", "2GB", "128MB", "5MB")]
    [InlineData(4, 4096, true, 5, 2, 1024, 819, 100, "512MB", "2GB", "128MB", "5MB")]
    [InlineData(4, 8192, true, 9, 2, 1024, 819, 116, "1GB", "4GB", "256MB", "8MB")]
    [InlineData(8, 16384, true, 17, 2, 1024, 819, 180, "2GB", "8GB", "512MB", "11MB")]
    [InlineData(16, 65536, true, 33, 2, 1183, 946, 308, "8GB", "32GB", "1GB", "26MB")]
    [InlineData(32, 131072, true, 65, 2, 1252, 1001, 564, "8GB", "64GB", "1GB", "43MB")]
    [InlineData(1, 2048, false, 3, 1, 1024, 819, 0, null, null, null, null)]
    [InlineData(2, 4096, false, 5, 1, 1024, 819, 0, null, null, null, null)]
    [InlineData(8, 16384, false, 17, 2, 1024, 819, 0, null, null, null, null)]
    [InlineData(32, 131072, false, 65, 2, 1734, 1387, 0, null, null, null, null)]
    public void Compute_HostTable_ExactNumbers(
        int cores, long ramMiB, bool local, int workers, int cron, int hardMiB, int softMiB,
        int maxConnections, string? sharedBuffers, string? effectiveCacheSize, string? maintenanceWorkMem, string? workMem)
    {
        var plan = Tuning.Compute(new TuningInput(cores, ramMiB * MiB, local));

        Assert.Equal(workers, plan.Workers);
        Assert.Equal(cron, plan.MaxCronThreads);
        Assert.Equal(hardMiB * MiB, plan.LimitMemoryHard);
        Assert.Equal(softMiB * MiB, plan.LimitMemorySoft);
        Assert.Equal((60, 120, -1, 65536, 8), (plan.LimitTimeCpu, plan.LimitTimeReal, plan.LimitTimeRealCron, plan.LimitRequest, plan.DbMaxConn));
        if (local)
        {
            var pg = Assert.IsType<PostgresTuning>(plan.Postgres);
            Assert.Equal(
                [
                    new("max_connections", maxConnections.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                    new("shared_buffers", sharedBuffers!),
                    new("effective_cache_size", effectiveCacheSize!),
                    new("maintenance_work_mem", maintenanceWorkMem!),
                    new("work_mem", workMem!),
                ],
                pg.Settings);
        }
        else
        {
            Assert.Null(plan.Postgres);
            Assert.Equal(0, plan.PostgresBudgetBytes);
        }
    }

    [Theory]
    [InlineData(2, "256MB", "1GB")]
    [InlineData(4, "512MB", "2GB")]
    public void Compute_SeedGuideHosts_MatchGuidePostgresValues(int gib, string sharedBuffers, string effectiveCacheSize)
    {
        var pg = Tuning.Compute(new TuningInput(2, gib * GiB, LocalPostgres: true)).Postgres!;

        Assert.Equal(sharedBuffers, Tuning.PostgresSize(pg.SharedBuffersBytes));
        Assert.Equal(effectiveCacheSize, Tuning.PostgresSize(pg.EffectiveCacheSizeBytes));
    }

    [Fact]
    public void Compute_RandomHosts_NeverOvercommitRam()
    {
        var random = new Random(20241118);
        for (var i = 0; i < 5000; i++)
        {
            var cores = random.Next(1, 129);
            // From the smallest host that fits with a local PostgreSQL, where the 1 GiB floor of limit_memory_hard applies.
            var ram = random.NextInt64(1834 * MiB, (1024 * GiB) + 1);
            var local = random.Next(2) == 0;

            var plan = Tuning.Compute(new TuningInput(cores, ram, local));

            var context = $"{cores} cores, {ram} bytes, local={local}";
            Assert.True(plan.Workers >= 1, context);
            Assert.True(plan.MaxCronThreads >= 1, context);
            Assert.True(plan.Workers <= (2 * cores) + 1, context);
            Assert.True(plan.OsReserveBytes + plan.PostgresBudgetBytes + (plan.OdooProcesses * Tuning.ProcessEstimateBytes) <= ram, context);
            Assert.True(plan.LimitMemoryHard >= Tuning.LimitMemoryHardFloor, context);
            Assert.True(
                plan.LimitMemoryHard == Tuning.LimitMemoryHardFloor || plan.LimitMemoryHard == Tuning.LimitMemoryHardCap
                || plan.OsReserveBytes + plan.PostgresBudgetBytes + (plan.OdooProcesses * plan.LimitMemoryHard) <= ram,
                context);
            Assert.True(plan.OdooProcesses * Tuning.ProcessEstimateBytes <= plan.OdooBudgetBytes, context);
            Assert.True(plan.LimitMemoryHard <= Tuning.LimitMemoryHardCap, context);
            Assert.True(plan.LimitMemorySoft <= Tuning.LimitMemorySoftCap && plan.LimitMemorySoft * 10 <= plan.LimitMemoryHard * 8, context);
            if (plan.Postgres is { } pg)
            {
                Assert.True(pg.MaxConnections >= plan.OdooConnections + Tuning.MaintenanceConnections, context);
                Assert.True(pg.SharedBuffersBytes * 2 <= plan.PostgresBudgetBytes, context);
                Assert.InRange(pg.WorkMemBytes, 4 * MiB, 64 * MiB);
                Assert.InRange(pg.MaintenanceWorkMemBytes, 64 * MiB, GiB);
            }
            else
            {
                Assert.False(local, context);
            }
        }
    }

    [Theory]
    [InlineData(2, 4, true, 6, null, 6, 1)]
    [InlineData(2, 4, true, 1, null, 1, 1)]
    [InlineData(2, 16, true, 20, null, 20, 1)]
    [InlineData(4, 4, true, null, 1, 6, 1)]
    [InlineData(4, 4, true, 4, 3, 4, 3)]
    [InlineData(4, 4, true, null, 6, 1, 6)]
    [InlineData(4, 8, true, 3, 4, 3, 4)]
    [InlineData(2, 4, false, 9, null, 9, 1)]
    public void Compute_OverrideRamAllows_Accepted(int cores, int gib, bool local, int? workers, int? cron, int expectedWorkers, int expectedCron)
    {
        var plan = Tuning.Compute(new TuningInput(cores, gib * GiB, local) { Workers = workers, MaxCronThreads = cron });

        Assert.Equal(expectedWorkers, plan.Workers);
        Assert.Equal(expectedCron, plan.MaxCronThreads);
        Assert.True(plan.OsReserveBytes + plan.PostgresBudgetBytes + (plan.OdooProcesses * Tuning.ProcessEstimateBytes) <= gib * GiB);
        Assert.Contains(plan.Explanation, line => line.Contains("(override odoo.", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(2, 4, true, 9, null,
        "odoo.workers: 9 needs 9 + 1 cron + 1 gevent processes × 325 MiB = 3575 MiB but 2662 MiB are available for Odoo on this host "
        + "(4 GiB RAM, local PostgreSQL); lower odoo.workers to at most 6 or add memory")]
    [InlineData(2, 4, true, 7, null,
        "odoo.workers: 7 needs 7 + 1 cron + 1 gevent processes × 325 MiB = 2925 MiB but 2662 MiB are available for Odoo on this host "
        + "(4 GiB RAM, local PostgreSQL); lower odoo.workers to at most 6 or add memory")]
    [InlineData(2, 4, false, 10, null,
        "odoo.workers: 10 needs 10 + 1 cron + 1 gevent processes × 325 MiB = 3900 MiB but 3686 MiB are available for Odoo on this host "
        + "(4 GiB RAM, remote PostgreSQL); lower odoo.workers to at most 9 or add memory")]
    [InlineData(4, 4, true, 5, 3,
        "odoo.workers: 5 needs 5 + 3 cron + 1 gevent processes × 325 MiB = 2925 MiB but 2662 MiB are available for Odoo on this host "
        + "(4 GiB RAM, local PostgreSQL); lower odoo.workers to at most 4 or add memory")]
    [InlineData(4, 4, true, null, 7,
        "odoo.max_cron_threads: 7 needs 1 + 7 cron + 1 gevent processes × 325 MiB = 2925 MiB but 2662 MiB are available for Odoo on this host "
        + "(4 GiB RAM, local PostgreSQL); lower odoo.max_cron_threads to at most 6 or add memory")]
    public void Compute_OverrideRamDoesNotAllow_ErrorSaysHowFarToLower(int cores, int gib, bool local, int? workers, int? cron, string expected)
    {
        var error = Assert.Throws<SpecValidationException>(() =>
            Tuning.Compute(new TuningInput(cores, gib * GiB, local) { Workers = workers, MaxCronThreads = cron }));

        Assert.Equal([expected], error.Errors);
    }

    [Theory]
    [InlineData(0, null, "odoo.workers: 0 is outside 1-1024")]
    [InlineData(-3, null, "odoo.workers: -3 is outside 1-1024")]
    [InlineData(null, 0, "odoo.max_cron_threads: 0 is outside 1-64")]
    [InlineData(2000, null, "odoo.workers: 2000 is outside 1-1024")]
    public void Compute_OverrideOutOfRange_Rejected(int? workers, int? cron, string expectedStart)
    {
        var error = Assert.Throws<SpecValidationException>(() =>
            Tuning.Compute(new TuningInput(4, 16 * GiB, LocalPostgres: true) { Workers = workers, MaxCronThreads = cron }));

        Assert.StartsWith(expectedStart, Assert.Single(error.Errors), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, 4096L << 20, "facts.cpu_cores: 0")]
    [InlineData(2, 0L, "facts.memory_bytes: 0")]
    public void Compute_ImpossibleFacts_Rejected(int cores, long memory, string expectedStart)
    {
        var error = Assert.Throws<SpecValidationException>(() => Tuning.Compute(new TuningInput(cores, memory, LocalPostgres: true)));

        Assert.StartsWith(expectedStart, Assert.Single(error.Errors), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1024L, true,
        "host: 1 GiB RAM leaves 368 MiB for Odoo after 400 MiB OS reserve and 256 MiB for the local PostgreSQL, but the smallest Odoo "
        + "(1 worker + 1 cron + 1 gevent processes × 325 MiB) needs 975 MiB; give the host at least 1834 MiB RAM "
        + "or move PostgreSQL to another host (then 1375 MiB is enough)")]
    [InlineData(1833L, true,
        "host: 1833 MiB RAM leaves 974 MiB for Odoo after 400 MiB OS reserve and 458 MiB for the local PostgreSQL, but the smallest Odoo "
        + "(1 worker + 1 cron + 1 gevent processes × 325 MiB) needs 975 MiB; give the host at least 1834 MiB RAM "
        + "or move PostgreSQL to another host (then 1375 MiB is enough)")]
    [InlineData(1024L, false,
        "host: 1 GiB RAM leaves 624 MiB for Odoo after 400 MiB OS reserve, but the smallest Odoo "
        + "(1 worker + 1 cron + 1 gevent processes × 325 MiB) needs 975 MiB; give the host at least 1375 MiB RAM")]
    [InlineData(1374L, false,
        "host: 1374 MiB RAM leaves 974 MiB for Odoo after 400 MiB OS reserve, but the smallest Odoo "
        + "(1 worker + 1 cron + 1 gevent processes × 325 MiB) needs 975 MiB; give the host at least 1375 MiB RAM")]
    public void Compute_HostTooSmall_ErrorNamesMemoryNeedAndFix(long ramMiB, bool local, string expected)
    {
        var error = Assert.Throws<SpecValidationException>(() => Tuning.Compute(new TuningInput(2, ramMiB * MiB, local)));

        Assert.Equal([expected], error.Errors);
    }

    [Theory]
    [InlineData(1834L, true)]
    [InlineData(1375L, false)]
    public void Compute_SmallestHostThatFits_OneWorker(long ramMiB, bool local)
    {
        var plan = Tuning.Compute(new TuningInput(2, ramMiB * MiB, local));

        Assert.Equal((1, 1), (plan.Workers, plan.MaxCronThreads));
    }

    [Fact]
    public void Compute_FourGiBTwoCoresLocal_ExplainsTheArithmetic()
    {
        var plan = Tuning.Compute(new TuningInput(2, 4 * GiB, LocalPostgres: true));

        Assert.Equal(
            [
                "host: 2 CPU cores, 4 GiB RAM, PostgreSQL on this host",
                "OS reserve = max(400 MiB, 10% of 4096 MiB = 409 MiB) = 409 MiB",
                "PostgreSQL budget = max(256 MiB, 25% of 4096 MiB = 1024 MiB) = 1024 MiB",
                "Odoo budget = 4096 - 409 - 1024 = 2662 MiB",
                "process estimate = 0.8 × 150 MiB + 0.2 × 1024 MiB ≈ 325 MiB (Odoo deployment docs: 80% light, 20% heavy requests)",
                "processes RAM allows = floor(2662 / 325) = 8",
                "max_cron_threads = 1 (2 cores or fewer)",
                "workers = min(2 × 2 + 1 = 5, 8 - 1 cron - 1 gevent = 6) = 5",
                "limit_memory_hard = clamp(floor(2662 MiB / (5 + 1 + 1)) = 380 MiB, 1024 MiB, 2560 MiB) = 1024 MiB "
                    + "(also limit_memory_hard_gevent; a virtual-size cap: floored so a worker can start and serve a heavy request)",
                "limit_memory_soft = min(2048 MiB, 80% of 1024 MiB) = 819 MiB (also limit_memory_soft_gevent; a worker above it is recycled after its request)",
                "check: 409 + 1024 + 7 × 325 MiB expected = 3708 MiB ≤ 4096 MiB RAM",
                "limit_time_cpu = 60 s, limit_time_real = 120 s, limit_time_real_cron = -1 (Odoo 18 default: use limit_time_real), limit_request = 65536 (Odoo 18 default)",
                "db_maxconn = 8 per process: Odoo opens at most 7 × 8 = 56 PostgreSQL connections",
                "PostgreSQL max_connections = max(100, 56 + 20 maintenance) = 100",
                "shared_buffers = min(8 GiB, 1024 MiB / 2) = 512MB",
                "effective_cache_size = 50% of 4096 MiB = 2GB",
                "maintenance_work_mem = clamp(4096 MiB / 32 = 128 MiB, 64 MiB, 1 GiB) = 128MB",
                "work_mem = clamp((1024 - 512) MiB / 100 = 5 MiB, 4 MiB, 64 MiB) = 5MB",
            ],
            plan.Explanation);
    }

    [Fact]
    public void Compute_RemotePostgres_ExplainsConnectionsTheServerMustAccept()
    {
        var plan = Tuning.Compute(new TuningInput(8, 16 * GiB, LocalPostgres: false));

        Assert.Contains("PostgreSQL budget = 0 (remote PostgreSQL: no PostgreSQL settings on this host)", plan.Explanation);
        Assert.Contains("remote PostgreSQL: its max_connections must leave room for 160 connections from this host", plan.Explanation);
        Assert.DoesNotContain(plan.Explanation, line => line.StartsWith("shared_buffers", StringComparison.Ordinal));
    }

    [Fact]
    public void Compute_ManyCoresSmallRam_CronLoweredSoOneWorkerFits()
    {
        var plan = Tuning.Compute(new TuningInput(4, 2 * GiB, LocalPostgres: true));

        Assert.Contains("max_cron_threads = 1 (2 for more than 2 cores, lowered so that one HTTP worker fits)", plan.Explanation);
    }

    [Fact]
    public void OdooOptions_FourGiB_FixedOrderAndBytes()
    {
        var plan = Tuning.Compute(new TuningInput(2, 4 * GiB, LocalPostgres: true));

        Assert.Equal(
            [
                new("workers", "5"), new("max_cron_threads", "1"),
                new("limit_memory_hard", "1073741824"), new("limit_memory_soft", "858783744"),
                new("limit_memory_hard_gevent", "1073741824"), new("limit_memory_soft_gevent", "858783744"),
                new("limit_time_cpu", "60"), new("limit_time_real", "120"), new("limit_time_real_cron", "-1"),
                new("limit_request", "65536"), new("db_maxconn", "8"),
            ],
            plan.OdooOptions);
    }

    [Theory]
    [InlineData(256L << 20, "256MB")]
    [InlineData(1L << 30, "1GB")]
    [InlineData(1536L << 20, "1536MB")]
    [InlineData(8L << 30, "8GB")]
    public void PostgresSize_Bytes_PostgresUnitSyntax(long bytes, string expected) => Assert.Equal(expected, Tuning.PostgresSize(bytes));
}
