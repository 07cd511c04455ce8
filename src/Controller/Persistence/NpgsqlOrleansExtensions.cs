using Microsoft.Extensions.Options;
using Npgsql;
using Orleans.Configuration;
using Orleans.Providers;
using Orleans.Runtime.Hosting;
using Orleans.Storage;

namespace OdooFleet.Controller.Persistence;

/// <summary>
/// Silo wiring of the PostgreSQL providers. Each resolves the singleton <see cref="NpgsqlDataSource"/>
/// registered in DI and reads <see cref="ClusterOptions"/> (cluster id for membership, service id
/// for reminders and grain state). Run <see cref="MigrationRunner"/> before the silo starts.
/// </summary>
internal static class NpgsqlOrleansExtensions
{
    /// <summary>Cluster membership in table <c>orleans_membership</c>, keyed by <see cref="ClusterOptions.ClusterId"/>.</summary>
    public static ISiloBuilder UseNpgsqlClustering(this ISiloBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddSingleton<IMembershipTable, NpgsqlMembershipTable>();
        return builder;
    }

    /// <summary>Reminder service plus its table <c>orleans_reminders</c>, keyed by <see cref="ClusterOptions.ServiceId"/>.</summary>
    public static ISiloBuilder UseNpgsqlReminders(this ISiloBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddReminders();
        builder.Services.AddSingleton<IReminderTable, NpgsqlReminderTable>();
        return builder;
    }

    /// <summary>Named grain storage (<c>[PersistentState("state", name)]</c>) in table <c>orleans_grain_state</c>.</summary>
    public static ISiloBuilder AddNpgsqlGrainStorage(this ISiloBuilder builder, string name)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        builder.Services.AddGrainStorage(name, static (services, providerName) => new NpgsqlGrainStorage(
            providerName,
            services.GetRequiredService<NpgsqlDataSource>(),
            services.GetRequiredService<IOptions<ClusterOptions>>(),
            services.GetRequiredService<ILogger<NpgsqlGrainStorage>>()));
        return builder;
    }

    /// <summary>The same storage for grains that name no provider (<c>[PersistentState("state")]</c>).</summary>
    public static ISiloBuilder AddNpgsqlGrainStorageAsDefault(this ISiloBuilder builder) =>
        builder.AddNpgsqlGrainStorage(ProviderConstants.DEFAULT_STORAGE_PROVIDER_NAME);
}
