using System.Net;
using Microsoft.Extensions.Options;
using Npgsql;
using OdooFleet.Controller.Api;
using OdooFleet.Controller.Grains;
using OdooFleet.Controller.Hosting;
using OdooFleet.Controller.Messaging;
using OdooFleet.Controller.Persistence;
using OdooFleet.Controller.Secrets;
using OdooFleet.Controller.Security;
using OdooFleet.Controller.Sources;
using Orleans.Configuration;

var builder = WebApplication.CreateBuilder(args);
builder.Host.UseSystemd();
builder.Logging.AddSimpleConsole(o =>
{
    o.SingleLine = true;
    o.TimestampFormat = "HH:mm:ss.fff ";
});

builder.Services.AddOptions<FleetOptions>().Bind(builder.Configuration.GetSection(FleetOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
builder.Services.AddOptions<ClusterSettings>().Bind(builder.Configuration.GetSection(ClusterSettings.Section));
builder.Services.AddOptions<BrokerOptions>().Bind(builder.Configuration.GetSection(BrokerOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
var broker = builder.Configuration.GetSection(BrokerOptions.Section).Get<BrokerOptions>() ?? new BrokerOptions();
var cluster = builder.Configuration.GetSection(ClusterSettings.Section).Get<ClusterSettings>() ?? new ClusterSettings();

var connectionString = builder.Configuration.GetConnectionString("Fleet");
if (string.IsNullOrWhiteSpace(connectionString))
{
    Console.Error.WriteLine(
        "error: ConnectionStrings:Fleet is not set; set it in appsettings or the environment variable ConnectionStrings__Fleet " +
        "(e.g. Host=127.0.0.1;Username=odoofleet;Password=...;Database=odoofleet)");
    return 2;
}

SecretKeyRing secretKeys;
try
{
    secretKeys = SecretKeyRing.Load(builder.Configuration.GetSection(SecretOptions.Section).Get<SecretOptions>() ?? new SecretOptions());
}
catch (SecretKeyException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}

var pool = DatabasePool.Parse(builder.Configuration["Database:MaxPoolSize"]);
if (pool.Error is not null)
{
    Console.Error.WriteLine($"error: {pool.Error}");
    return 2;
}

var dataSource = NpgsqlDataSource.Create(DatabasePool.Apply(connectionString, pool.Size));
builder.Services.AddSingleton(secretKeys);
builder.Services.AddSingleton<SecretStore>();
builder.Services.AddSingleton(dataSource);
builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddSingleton<HostStore>();
builder.Services.AddSingleton<HeartbeatWriter>();
builder.Services.AddSingleton<TenantStore>();
builder.Services.AddSingleton<TenantMoveStore>();
builder.Services.AddSingleton<EventStore>();
builder.Services.AddSingleton<AuditStore>();
builder.Services.AddSingleton<PlanStore>();
builder.Services.AddSingleton<DriftStore>();
builder.Services.AddSingleton<EnrollmentStore>();
builder.Services.AddSingleton<ApiTokenStore>();
builder.Services.AddSingleton<ReleaseResolver>();
builder.Services.AddSingleton<ReleaseStore>();
builder.Services.AddSingleton<ReleaseBuilder>();
builder.Services.AddSingleton<RolloutStore>();
builder.Services.AddHostedService<RolloutKeeper>();
builder.Services.AddFleetSecurity(builder.Configuration);
builder.Services.AddSingleton<ApiTokenInterceptor>();
builder.Services.AddFleetMessaging(broker);
// https:// endpoints of ASPNETCORE_URLS (agents) get the fleet server certificate; http:// ones (the CLI on loopback) stay plain.
builder.WebHost.UseFleetTls();
builder.Services.AddGrpc(o => o.EnableDetailedErrors = false)
    .AddServiceOptions<FleetApi>(o => o.Interceptors.Add<ApiTokenInterceptor>());

builder.UseOrleans(silo =>
{
    silo.Configure<ClusterOptions>(o =>
    {
        o.ClusterId = cluster.ClusterId;
        o.ServiceId = cluster.ServiceId;
    });
    silo.ConfigureEndpoints(IPAddress.Parse(cluster.AdvertisedAddress), cluster.SiloPort, cluster.GatewayPort, listenOnAnyHostAddress: false);
    silo.UseNpgsqlClustering();
    silo.UseNpgsqlReminders();
    silo.AddNpgsqlGrainStorage("fleet");
    if (cluster.FastFailureDetection)
    {
        // Rollout reminders wake a rollout on a surviving silo; on one box that should take seconds.
        silo.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = TimeSpan.FromSeconds(10));
        // One box, tests: declare a killed silo dead within seconds instead of about a minute.
        silo.Configure<ClusterMembershipOptions>(ClusterTuning.FastFailureDetection);
        silo.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(10));
    }
});

var app = builder.Build();
var startupLogger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("OdooFleet.Controller.Startup");
// Schema first: the silo's membership, reminders and grain state live in these tables.
await MigrationRunner.MigrateAsync(dataSource, startupLogger, CancellationToken.None);
// A key rotation: rows still sealed with a previous key are re-sealed with the current one.
await app.Services.GetRequiredService<SecretStore>().RotateAsync(CancellationToken.None);
try
{
    // The fleet CA and this controller's server certificate exist before the first handshake.
    await app.Services.GetRequiredService<FleetCertificateAuthority>().InitializeAsync(CancellationToken.None);
    app.Services.GetRequiredService<ServerCertificateProvider>().Current();
}
catch (Exception e) when (e is FleetCaException or OptionsValidationException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}

app.MapGrpcService<AgentApi>();
app.MapGrpcService<FleetApi>();
app.MapFleetCaCertificate();
app.MapFleetReleases();
app.MapTenantMoveArchives();
await app.RunAsync();
return 0;
