using System.Data.Common;
using System.Globalization;
using Microsoft.Extensions.Options;
using Npgsql;
using Orleans.Configuration;

namespace OdooFleet.Controller.Persistence;

/// <summary>
/// Orleans reminders in PostgreSQL, keyed by service id so they survive cluster redeployments.
/// Each row carries its grain's ring hash, so a silo reads just the reminders of its ring range.
/// </summary>
internal sealed partial class NpgsqlReminderTable(
    NpgsqlDataSource db,
    IOptions<ClusterOptions> clusterOptions,
    ILogger<NpgsqlReminderTable> logger) : IReminderTable
{
    private const string Columns = "grain_id, reminder_name, start_at, period_ticks, etag";

    // Orleans ring ranges are (begin, end]; begin >= end means the range wraps past uint.MaxValue.
    private const string SelectRange =
        $"SELECT {Columns} FROM orleans_reminders WHERE service_id = $1 AND grain_hash > $2 AND grain_hash <= $3";

    private const string SelectWrappedRange =
        $"SELECT {Columns} FROM orleans_reminders WHERE service_id = $1 AND (grain_hash > $2 OR grain_hash <= $3)";

    private readonly string serviceId = clusterOptions.Value.ServiceId;

    public async Task<ReminderTableData> ReadRows(GrainId grainId, CancellationToken cancellationToken)
    {
        await using var cmd = db.CreateCommand($"SELECT {Columns} FROM orleans_reminders WHERE service_id = $1 AND grain_id = $2");
        cmd.Parameters.Add(Text(serviceId));
        cmd.Parameters.Add(Text(grainId.ToString()));
        return new ReminderTableData(await ReadEntriesAsync(cmd, cancellationToken));
    }

    public async Task<ReminderTableData> ReadRows(uint begin, uint end, CancellationToken cancellationToken)
    {
        await using var cmd = db.CreateCommand(begin < end ? SelectRange : SelectWrappedRange);
        cmd.Parameters.Add(Text(serviceId));
        cmd.Parameters.Add(new NpgsqlParameter<long> { TypedValue = begin });
        cmd.Parameters.Add(new NpgsqlParameter<long> { TypedValue = end });
        var entries = await ReadEntriesAsync(cmd, cancellationToken);
        LogRangeRead(logger, entries.Count, begin, end);
        return new ReminderTableData(entries);
    }

    public async Task<ReminderEntry?> ReadRow(GrainId grainId, string reminderName, CancellationToken cancellationToken)
    {
        await using var cmd = db.CreateCommand(
            $"SELECT {Columns} FROM orleans_reminders WHERE service_id = $1 AND grain_id = $2 AND reminder_name = $3");
        cmd.Parameters.Add(Text(serviceId));
        cmd.Parameters.Add(Text(grainId.ToString()));
        cmd.Parameters.Add(Text(reminderName));
        var entries = await ReadEntriesAsync(cmd, cancellationToken);
        return entries.Count == 0 ? null : entries[0];
    }

    /// <summary>Inserts or replaces the reminder unconditionally and returns its new etag.</summary>
    public async Task<string?> UpsertRow(ReminderEntry entry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        await using var cmd = db.CreateCommand(
            """
            INSERT INTO orleans_reminders (service_id, grain_id, reminder_name, grain_hash, start_at, period_ticks)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (service_id, grain_id, reminder_name) DO UPDATE
            SET grain_hash = EXCLUDED.grain_hash, start_at = EXCLUDED.start_at, period_ticks = EXCLUDED.period_ticks,
                etag = nextval('orleans_etag_seq')
            RETURNING etag
            """);
        cmd.Parameters.Add(Text(serviceId));
        cmd.Parameters.Add(Text(entry.GrainId.ToString()));
        cmd.Parameters.Add(Text(entry.ReminderName));
        cmd.Parameters.Add(new NpgsqlParameter<long> { TypedValue = entry.GrainId.GetUniformHashCode() });
        cmd.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = Utc(entry.StartAt) });
        cmd.Parameters.Add(new NpgsqlParameter<long> { TypedValue = entry.Period.Ticks });
        var etag = (long)(await cmd.ExecuteScalarAsync(cancellationToken))!;
        return etag.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>Removes the reminder only if <paramref name="eTag"/> is still its current etag.</summary>
    public async Task<bool> RemoveRow(GrainId grainId, string reminderName, string eTag, CancellationToken cancellationToken)
    {
        if (!long.TryParse(eTag, NumberStyles.Integer, CultureInfo.InvariantCulture, out var expected))
        {
            return false;
        }

        await using var cmd = db.CreateCommand(
            "DELETE FROM orleans_reminders WHERE service_id = $1 AND grain_id = $2 AND reminder_name = $3 AND etag = $4");
        cmd.Parameters.Add(Text(serviceId));
        cmd.Parameters.Add(Text(grainId.ToString()));
        cmd.Parameters.Add(Text(reminderName));
        cmd.Parameters.Add(new NpgsqlParameter<long> { TypedValue = expected });
        return await cmd.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task TestOnlyClearTable(CancellationToken cancellationToken)
    {
        await using var cmd = db.CreateCommand("DELETE FROM orleans_reminders WHERE service_id = $1");
        cmd.Parameters.Add(Text(serviceId));
        await cmd.ExecuteNonQueryAsync(cancellationToken);
    }

    public Task<ReminderTableData> ReadRows(GrainId grainId) => ReadRows(grainId, CancellationToken.None);

    public Task<ReminderTableData> ReadRows(uint begin, uint end) => ReadRows(begin, end, CancellationToken.None);

    public Task<ReminderEntry?> ReadRow(GrainId grainId, string reminderName) => ReadRow(grainId, reminderName, CancellationToken.None);

    public Task<string?> UpsertRow(ReminderEntry entry) => UpsertRow(entry, CancellationToken.None);

    public Task<bool> RemoveRow(GrainId grainId, string reminderName, string eTag) =>
        RemoveRow(grainId, reminderName, eTag, CancellationToken.None);

    public Task TestOnlyClearTable() => TestOnlyClearTable(CancellationToken.None);

    private static async Task<List<ReminderEntry>> ReadEntriesAsync(NpgsqlCommand cmd, CancellationToken ct)
    {
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var entries = new List<ReminderEntry>();
        while (await reader.ReadAsync(ct))
        {
            entries.Add(ReadEntry(reader));
        }

        return entries;
    }

    private static ReminderEntry ReadEntry(DbDataReader reader) => new()
    {
        GrainId = GrainId.Parse(reader.GetString(0), CultureInfo.InvariantCulture),
        ReminderName = reader.GetString(1),
        StartAt = reader.GetFieldValue<DateTime>(2),
        Period = TimeSpan.FromTicks(reader.GetInt64(3)),
        ETag = reader.GetInt64(4).ToString(CultureInfo.InvariantCulture),
    };

    private static NpgsqlParameter<string> Text(string value) => new() { TypedValue = value };

    private static DateTime Utc(DateTime value) => value.Kind switch
    {
        DateTimeKind.Utc => value,
        DateTimeKind.Local => value.ToUniversalTime(),
        _ => DateTime.SpecifyKind(value, DateTimeKind.Utc),
    };

    [LoggerMessage(Level = LogLevel.Debug, Message = "Read {Count} reminders of ring range ({Begin}, {End}]")]
    private static partial void LogRangeRead(ILogger logger, int count, uint begin, uint end);
}
