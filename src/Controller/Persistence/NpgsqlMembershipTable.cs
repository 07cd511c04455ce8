using System.Data.Common;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using Orleans.Configuration;

namespace OdooFleet.Controller.Persistence;

/// <summary>
/// Orleans cluster membership in PostgreSQL. Every change to a silo row bumps the cluster's table
/// version in the same transaction and only if the caller's version etag is still current, which
/// is the optimistic concurrency the membership protocol relies on. Heartbeats touch neither etag.
/// </summary>
internal sealed partial class NpgsqlMembershipTable(
    NpgsqlDataSource db,
    IOptions<ClusterOptions> clusterOptions,
    ILogger<NpgsqlMembershipTable> logger) : IMembershipTable
{
    private const string SelectRows =
        """
        SELECT v.version, v.etag, m.silo_address, m.silo_name, m.host_name, m.role_name, m.status, m.proxy_port,
               m.update_zone, m.fault_zone, m.suspect_times, m.start_time, m.i_am_alive_time, m.etag
        FROM orleans_membership_version v
        LEFT JOIN orleans_membership m ON m.cluster_id = v.cluster_id AND ($2::text IS NULL OR m.silo_address = $2)
        WHERE v.cluster_id = $1
        """;

    private readonly string clusterId = clusterOptions.Value.ClusterId;

    public async Task InitializeMembershipTableAsync(bool tryInitTableVersion, CancellationToken cancellationToken)
    {
        if (!tryInitTableVersion)
        {
            return;
        }

        await using var cmd = db.CreateCommand(
            "INSERT INTO orleans_membership_version (cluster_id, version, etag) VALUES ($1, 0, 0) ON CONFLICT DO NOTHING");
        cmd.Parameters.Add(Text(clusterId));
        await cmd.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task DeleteMembershipTableEntriesAsync(string clusterId, CancellationToken cancellationToken)
    {
        // Rows go with their version row (ON DELETE CASCADE).
        await using var cmd = db.CreateCommand("DELETE FROM orleans_membership_version WHERE cluster_id = $1");
        cmd.Parameters.Add(Text(clusterId));
        await cmd.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task CleanupDefunctSiloEntriesAsync(DateTimeOffset beforeDate, CancellationToken cancellationToken)
    {
        await using var cmd = db.CreateCommand(
            "DELETE FROM orleans_membership WHERE cluster_id = $1 AND status = $2 AND last_update < $3");
        cmd.Parameters.Add(Text(clusterId));
        cmd.Parameters.Add(new NpgsqlParameter<int> { TypedValue = (int)SiloStatus.Dead });
        cmd.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = beforeDate.ToUniversalTime() });
        var removed = await cmd.ExecuteNonQueryAsync(cancellationToken);
        LogDefunctRemoved(logger, removed, clusterId, beforeDate);
    }

    public async Task<MembershipTableData> ReadRowAsync(SiloAddress key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        await using var cmd = db.CreateCommand(SelectRows);
        cmd.Parameters.Add(Text(clusterId));
        cmd.Parameters.Add(Text(key.ToParsableString()));
        return await ReadTableAsync(cmd, cancellationToken);
    }

    public async Task<MembershipTableData> ReadAllAsync(CancellationToken cancellationToken)
    {
        await using var cmd = db.CreateCommand(SelectRows);
        cmd.Parameters.Add(Text(clusterId));
        cmd.Parameters.Add(new NpgsqlParameter { Value = DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        return await ReadTableAsync(cmd, cancellationToken);
    }

    public async Task<bool> InsertRowAsync(MembershipEntry entry, TableVersion tableVersion, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(tableVersion);
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        if (!await TryBumpVersionAsync(connection, tx, tableVersion, cancellationToken))
        {
            LogVersionConflict(logger, "insert", entry.SiloAddress, tableVersion.Version);
            return false;
        }

        await using var cmd = new NpgsqlCommand(
            """
            INSERT INTO orleans_membership (cluster_id, silo_address, silo_name, host_name, role_name, status, proxy_port,
                update_zone, fault_zone, suspect_times, start_time, i_am_alive_time, last_update, etag)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 0)
            ON CONFLICT DO NOTHING
            """,
            connection,
            tx);
        cmd.Parameters.Add(Text(clusterId));
        cmd.Parameters.Add(Text(entry.SiloAddress.ToParsableString()));
        AddEntryFields(cmd, entry);
        if (await cmd.ExecuteNonQueryAsync(cancellationToken) == 0)
        {
            LogRowConflict(logger, "insert", entry.SiloAddress);
            return false;
        }

        await tx.CommitAsync(cancellationToken);
        return true;
    }

    public async Task<bool> UpdateRowAsync(MembershipEntry entry, string etag, TableVersion tableVersion, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(tableVersion);
        if (!long.TryParse(etag, NumberStyles.Integer, CultureInfo.InvariantCulture, out var rowEtag))
        {
            return false;
        }

        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        if (!await TryBumpVersionAsync(connection, tx, tableVersion, cancellationToken))
        {
            LogVersionConflict(logger, "update", entry.SiloAddress, tableVersion.Version);
            return false;
        }

        await using var cmd = new NpgsqlCommand(
            """
            UPDATE orleans_membership
            SET silo_name = $3, host_name = $4, role_name = $5, status = $6, proxy_port = $7, update_zone = $8,
                fault_zone = $9, suspect_times = $10, start_time = $11, i_am_alive_time = $12,
                last_update = GREATEST(last_update, $13), etag = etag + 1
            WHERE cluster_id = $1 AND silo_address = $2 AND etag = $14
            """,
            connection,
            tx);
        cmd.Parameters.Add(Text(clusterId));
        cmd.Parameters.Add(Text(entry.SiloAddress.ToParsableString()));
        AddEntryFields(cmd, entry);
        cmd.Parameters.Add(new NpgsqlParameter<long> { TypedValue = rowEtag });
        if (await cmd.ExecuteNonQueryAsync(cancellationToken) == 0)
        {
            LogRowConflict(logger, "update", entry.SiloAddress);
            return false;
        }

        await tx.CommitAsync(cancellationToken);
        return true;
    }

    public async Task UpdateIAmAliveAsync(MembershipEntry entry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        await using var cmd = db.CreateCommand(
            """
            UPDATE orleans_membership SET i_am_alive_time = $3, last_update = GREATEST(last_update, $3)
            WHERE cluster_id = $1 AND silo_address = $2
            """);
        cmd.Parameters.Add(Text(clusterId));
        cmd.Parameters.Add(Text(entry.SiloAddress.ToParsableString()));
        cmd.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = Utc(entry.IAmAliveTime) });
        await cmd.ExecuteNonQueryAsync(cancellationToken);
    }

    Task IMembershipTable.InitializeMembershipTable(bool tryInitTableVersion) =>
        InitializeMembershipTableAsync(tryInitTableVersion, CancellationToken.None);

    Task IMembershipTable.DeleteMembershipTableEntries(string clusterId) =>
        DeleteMembershipTableEntriesAsync(clusterId, CancellationToken.None);

    Task IMembershipTable.CleanupDefunctSiloEntries(DateTimeOffset beforeDate) =>
        CleanupDefunctSiloEntriesAsync(beforeDate, CancellationToken.None);

    Task<MembershipTableData> IMembershipTable.ReadRow(SiloAddress key) => ReadRowAsync(key, CancellationToken.None);

    Task<MembershipTableData> IMembershipTable.ReadAll() => ReadAllAsync(CancellationToken.None);

    Task<bool> IMembershipTable.InsertRow(MembershipEntry entry, TableVersion tableVersion) =>
        InsertRowAsync(entry, tableVersion, CancellationToken.None);

    Task<bool> IMembershipTable.UpdateRow(MembershipEntry entry, string etag, TableVersion tableVersion) =>
        UpdateRowAsync(entry, etag, tableVersion, CancellationToken.None);

    Task IMembershipTable.UpdateIAmAlive(MembershipEntry entry) => UpdateIAmAliveAsync(entry, CancellationToken.None);

    /// <summary>Moves the table to <paramref name="next"/>.Version if the stored etag still equals next.VersionEtag.</summary>
    private async Task<bool> TryBumpVersionAsync(
        NpgsqlConnection connection, NpgsqlTransaction tx, TableVersion next, CancellationToken ct)
    {
        if (!long.TryParse(next.VersionEtag, NumberStyles.Integer, CultureInfo.InvariantCulture, out var expectedEtag))
        {
            return false;
        }

        // Under READ COMMITTED a concurrent writer holding the row makes this wait, then re-check the
        // etag against the committed value, so exactly one of two racing writers wins.
        await using var cmd = new NpgsqlCommand(
            """
            UPDATE orleans_membership_version SET version = $2, etag = etag + 1, updated_at = now()
            WHERE cluster_id = $1 AND etag = $3
            """,
            connection,
            tx);
        cmd.Parameters.Add(Text(clusterId));
        cmd.Parameters.Add(new NpgsqlParameter<int> { TypedValue = next.Version });
        cmd.Parameters.Add(new NpgsqlParameter<long> { TypedValue = expectedEtag });
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }

    private static void AddEntryFields(NpgsqlCommand cmd, MembershipEntry entry)
    {
        var suspects = (entry.SuspectTimes ?? [])
            .Select(s => new SuspectVote(s.Item1.ToParsableString(), Utc(s.Item2)))
            .ToList();
        var lastUpdate = suspects.Select(s => s.At).Append(Utc(entry.IAmAliveTime)).Max();

        cmd.Parameters.Add(Text(entry.SiloName ?? ""));
        cmd.Parameters.Add(Text(entry.HostName ?? ""));
        cmd.Parameters.Add(Text(entry.RoleName ?? ""));
        cmd.Parameters.Add(new NpgsqlParameter<int> { TypedValue = (int)entry.Status });
        cmd.Parameters.Add(new NpgsqlParameter<int> { TypedValue = entry.ProxyPort });
        cmd.Parameters.Add(new NpgsqlParameter<int> { TypedValue = entry.UpdateZone });
        cmd.Parameters.Add(new NpgsqlParameter<int> { TypedValue = entry.FaultZone });
        cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = JsonSerializer.Serialize(suspects), NpgsqlDbType = NpgsqlDbType.Jsonb });
        cmd.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = Utc(entry.StartTime) });
        cmd.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = Utc(entry.IAmAliveTime) });
        cmd.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = lastUpdate });
    }

    private static async Task<MembershipTableData> ReadTableAsync(NpgsqlCommand cmd, CancellationToken ct)
    {
        // One statement, one snapshot: the rows and the version are read atomically.
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        TableVersion? version = null;
        var rows = new List<Tuple<MembershipEntry, string>>();
        while (await reader.ReadAsync(ct))
        {
            version ??= new TableVersion(reader.GetInt32(0), reader.GetInt64(1).ToString(CultureInfo.InvariantCulture));
            if (!await reader.IsDBNullAsync(2, ct))
            {
                rows.Add(Tuple.Create(ReadEntry(reader), reader.GetInt64(13).ToString(CultureInfo.InvariantCulture)));
            }
        }

        // No version row: the table was never initialised for this cluster (or was deleted).
        return new MembershipTableData(rows, version ?? new TableVersion(0, "0"));
    }

    private static MembershipEntry ReadEntry(DbDataReader reader)
    {
        var suspects = JsonSerializer.Deserialize<List<SuspectVote>>(reader.GetString(10)) ?? [];
        return new MembershipEntry
        {
            SiloAddress = SiloAddress.FromParsableString(reader.GetString(2)),
            SiloName = reader.GetString(3),
            HostName = reader.GetString(4),
            RoleName = reader.GetString(5),
            Status = (SiloStatus)reader.GetInt32(6),
            ProxyPort = reader.GetInt32(7),
            UpdateZone = reader.GetInt32(8),
            FaultZone = reader.GetInt32(9),
            SuspectTimes = suspects.Select(s => Tuple.Create(SiloAddress.FromParsableString(s.Silo), Utc(s.At))).ToList(),
            StartTime = reader.GetFieldValue<DateTime>(11),
            IAmAliveTime = reader.GetFieldValue<DateTime>(12),
        };
    }

    private static NpgsqlParameter<string> Text(string value) => new() { TypedValue = value };

    /// <summary>timestamptz needs UTC; Orleans uses UTC already, an unspecified kind is taken as UTC.</summary>
    private static DateTime Utc(DateTime value) => value.Kind switch
    {
        DateTimeKind.Utc => value,
        DateTimeKind.Local => value.ToUniversalTime(),
        _ => DateTime.SpecifyKind(value, DateTimeKind.Utc),
    };

    private sealed record SuspectVote(string Silo, DateTime At);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Membership {Operation} of {Silo} lost a race: table version {Version} was taken by another writer")]
    private static partial void LogVersionConflict(ILogger logger, string operation, SiloAddress silo, int version);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Membership {Operation} of {Silo} failed: the row exists already or its etag changed")]
    private static partial void LogRowConflict(ILogger logger, string operation, SiloAddress silo);

    [LoggerMessage(Level = LogLevel.Information, Message = "Removed {Count} defunct silo entries of cluster {ClusterId} last updated before {BeforeDate}")]
    private static partial void LogDefunctRemoved(ILogger logger, int count, string clusterId, DateTimeOffset beforeDate);
}
