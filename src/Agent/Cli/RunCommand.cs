using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OdooFleet.Agent.Configuration;
using OdooFleet.Agent.Drift;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Metrics;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Transport;

namespace OdooFleet.Agent.Cli;

/// <summary>`run`: the agent service (heartbeat stream, command queue, converges) under systemd.</summary>
internal static class RunCommand
{
    public static async Task<int> RunAsync(ParsedArgs args)
    {
        var configPath = args.Value("config") ?? AgentConfig.DefaultPath;
        var config = await AgentConfig.LoadAsync(configPath, CancellationToken.None);
        Directory.CreateDirectory(config.StateDirectory);
        var journal = await Journal.OpenAsync(config.JournalPath, TimeProvider.System, CancellationToken.None);
        var identity = await AgentIdentity.LoadAsync(config.IdentityPath, CancellationToken.None);
        CommandVerifier verifier;
        try
        {
            verifier = new CommandVerifier(Convert.FromBase64String(config.CommandSigningKey), config.CommandSigningKeyId);
        }
        catch (IdentityException e)
        {
            throw new ConfigException($"{configPath}: {e.Message}; re-enroll with --force and a new token");
        }

        using var replay = await ReplayGuard.OpenAsync(config.ReplayGuardPath, TimeProvider.System, CancellationToken.None);

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            Args = [],
            ContentRootPath = AppContext.BaseDirectory,
            DisableDefaults = false,
        });
        builder.Services.AddSystemd();
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            o.UseUtcTimestamp = true;
        });

        var services = builder.Services;
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(config);
        services.AddSingleton(journal);
        services.AddSingleton(new IdentityHolder(identity, verifier));
        services.AddSingleton(replay);
        services.AddSingleton(new HostPaths(config.Root));
        services.AddSingleton<ICommandRunner, ProcessCommandRunner>();
        services.AddSingleton(new HttpClient());
        services.AddSingleton<ControllerArtifactSource>();
        services.AddSingleton(sp => new ProfileEnvironment(
            sp.GetRequiredService<HostPaths>(), sp.GetRequiredService<ICommandRunner>(), sp.GetRequiredService<HttpClient>(), TimeProvider.System,
            Facts.FactCollector.ProfileFacts)
        {
            StateDirectory = config.StateDirectory,
            Artifacts = sp.GetRequiredService<ControllerArtifactSource>(),
        });
        services.AddSingleton<ConvergeEngine>();
        services.AddSingleton(sp => new LocalConverger(
            sp.GetRequiredService<ProfileEnvironment>(),
            sp.GetRequiredService<ConvergeEngine>(),
            Path.Combine(config.StateDirectory, "converge.lock"),
            TimeProvider.System,
            sp.GetRequiredService<ILogger<LocalConverger>>()));
        services.AddSingleton<ControllerClient>();
        services.AddSingleton(new MetricsSampler());
        services.AddSingleton(sp =>
        {
            var environment = sp.GetRequiredService<ProfileEnvironment>();
            return new TenantSizeReporter(
                config,
                sp.GetRequiredService<ControllerClient>(),
                new TenantSizeMeter(environment.Runner, environment.Paths, environment.Layout),
                () => OdooProfile.LocalCluster(environment.Facts()),
                TimeProvider.System,
                sp.GetRequiredService<ILogger<TenantSizeReporter>>());
        });
        services.AddHostedService(sp => sp.GetRequiredService<TenantSizeReporter>());
        services.AddSingleton<ConvergeCoordinator>();
        services.AddHostedService(sp => sp.GetRequiredService<ConvergeCoordinator>());
        services.AddSingleton<PlanService>();
        services.AddHostedService(sp => sp.GetRequiredService<PlanService>());
        services.AddSingleton<StageService>();
        services.AddHostedService(sp => sp.GetRequiredService<StageService>());
        services.AddSingleton(sp => DriftJournal.Open(
            Path.Combine(config.StateDirectory, "drift.json"), DriftJournal.DefaultCapacity, TimeProvider.System, sp.GetRequiredService<ILogger<DriftJournal>>()));
        services.AddSingleton(sp => new DriftMonitorOptions
        {
            SpecCachePath = config.SpecCachePath,
            Paths = sp.GetRequiredService<HostPaths>(),
            // A generation whose release change was reverted is measured against the release put back, never re-switched.
            Compile = host => OdooProfile.Compile(
                sp.GetRequiredService<LocalConverger>().Effective(host), sp.GetRequiredService<ProfileEnvironment>(), persistSecrets: false).Resources,
        });
        services.AddHostedService<DriftMonitor>();
        services.AddHostedService<DriftReporter>();
        services.AddHostedService<HeartbeatService>();
        services.AddSingleton<RejectionReporter>();
        services.AddHostedService(sp => sp.GetRequiredService<RejectionReporter>());
        services.AddHostedService<CommandConsumer>();
        services.AddHostedService(sp => new CertificateRenewer(
            config, configPath, sp.GetRequiredService<IdentityHolder>(), sp.GetRequiredService<ControllerClient>(), TimeProvider.System,
            sp.GetRequiredService<ILogger<CertificateRenewer>>()));

        using var host = builder.Build();
        var logger = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("odoofleet-agent");
        logger.LogInformation(
            "agent {Version} for host {HostId}: controllers {Controllers}, journal {Journal} (applied {Applied}, pending {Pending}), certificate valid until {NotAfter:O}, command signing key {KeyId}",
            Facts.FactCollector.AgentVersion, config.HostId, string.Join(", ", config.ControllerUrls), config.JournalPath,
            journal.Current.AppliedGeneration, journal.Current.PendingGeneration, identity.Certificate.NotAfter.ToUniversalTime(), verifier.KeyId);
        if (replay.CorruptCopy is { } corrupt)
        {
            logger.LogWarning(
                "replay cache {Path} was unreadable (moved to {Corrupt}); commands issued before now are refused", config.ReplayGuardPath, corrupt);
        }

        await host.RunAsync();
        return ExitCodes.Ok;
    }
}
