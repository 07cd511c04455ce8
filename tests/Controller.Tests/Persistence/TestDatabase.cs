using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using OdooFleet.Controller.Persistence;
using Xunit;

namespace OdooFleet.Controller.Tests.Persistence;

/// <summary>
/// A fresh, uniquely named PostgreSQL database on the server named by <c>OF_TEST_PG</c>, dropped on dispose.
/// </summary>
internal sealed class TestDatabase : IAsyncDisposable
{
    public const string EnvironmentVariable = "OF_TEST_PG";

    private readonly string adminConnectionString;

    private TestDatabase(string adminConnectionString, string name, string connectionString)
    {
        this.adminConnectionString = adminConnectionString;
        Name = name;
        ConnectionString = connectionString;
        DataSource = NpgsqlDataSource.Create(connectionString);
    }

    public string Name { get; }

    public string ConnectionString { get; }

    /// <summary>A data source on this database; disposed with it.</summary>
    public NpgsqlDataSource DataSource { get; }

    public static async Task<TestDatabase> CreateAsync(bool migrate)
    {
        var admin = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (string.IsNullOrWhiteSpace(admin))
        {
            throw new InvalidOperationException(
                $"{EnvironmentVariable} is not set: these tests need a real PostgreSQL and a role that may create databases. " +
                $"Set e.g. {EnvironmentVariable}='Host=127.0.0.1;Username=odoofleet;Password=odoofleet;Database=postgres' " +
                "after `su postgres -c \"psql -c \\\"create role odoofleet login createdb password 'odoofleet'\\\"\"` " +
                "(start the server with `pg_ctlcluster 15 main start`).");
        }

        // The name is generated here, never taken from input, so it is safe to put in DDL.
        var name = "of_test_" + Guid.NewGuid().ToString("N");
        await using (var adminSource = NpgsqlDataSource.Create(admin))
        await using (var create = adminSource.CreateCommand($"CREATE DATABASE \"{name}\""))
        {
            await create.ExecuteNonQueryAsync();
        }

        var connectionString = new NpgsqlConnectionStringBuilder(admin) { Database = name }.ConnectionString;
        var database = new TestDatabase(admin, name, connectionString);
        if (migrate)
        {
            await MigrationRunner.MigrateAsync(database.DataSource, NullLogger.Instance, CancellationToken.None);
        }

        return database;
    }

    /// <summary>Another, independent data source (its own pool), as a second controller process would have.</summary>
    public NpgsqlDataSource CreateDataSource() => NpgsqlDataSource.Create(ConnectionString);

    public async ValueTask DisposeAsync()
    {
        await DataSource.DisposeAsync();
        await using var adminSource = NpgsqlDataSource.Create(adminConnectionString);
        await using var drop = adminSource.CreateCommand($"DROP DATABASE IF EXISTS \"{Name}\" WITH (FORCE)");
        // FORCE may not terminate an autovacuum worker that is busy in the new database (it has no
        // role, so PostgreSQL answers 42501): wait for it to finish, up to a deadline.
        var deadline = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            try
            {
                await drop.ExecuteNonQueryAsync();
                return;
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InsufficientPrivilege && DateTimeOffset.UtcNow < deadline)
            {
                // Polled condition: the worker leaves the database within seconds.
                await Task.Delay(TimeSpan.FromMilliseconds(100));
            }
        }
    }
}

/// <summary>One migrated database per test class.</summary>
public sealed class MigratedDatabaseFixture : IAsyncLifetime
{
    private TestDatabase? database;

    internal TestDatabase Database =>
        database ?? throw new InvalidOperationException("The database fixture was not initialised.");

    public async ValueTask InitializeAsync() => database = await TestDatabase.CreateAsync(migrate: true);

    public async ValueTask DisposeAsync()
    {
        if (database is not null)
        {
            await database.DisposeAsync();
        }
    }
}
