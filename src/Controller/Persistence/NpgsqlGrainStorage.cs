using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using Orleans.Configuration;
using Orleans.Storage;

namespace OdooFleet.Controller.Persistence;

/// <summary>
/// Grain state as jsonb, one row per (service, grain type, grain key, state name), so state stays
/// readable with psql. Writes are guarded by the row's etag: a stale writer gets
/// <see cref="InconsistentStateException"/> and Orleans deactivates it.
/// </summary>
internal sealed partial class NpgsqlGrainStorage(
    string providerName,
    NpgsqlDataSource db,
    IOptions<ClusterOptions> clusterOptions,
    ILogger<NpgsqlGrainStorage> logger) : IGrainStorage
{
    private const string KeyFilter = "service_id = $1 AND grain_type = $2 AND grain_key = $3 AND state_name = $4";

    private readonly string serviceId = clusterOptions.Value.ServiceId;

    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(grainState);
        await using var cmd = db.CreateCommand($"SELECT state, etag FROM orleans_grain_state WHERE {KeyFilter}");
        AddKey(cmd, stateName, grainId);
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            grainState.ETag = null;
            grainState.RecordExists = false;
            return;
        }

        var json = reader.GetString(0);
        T? state;
        try
        {
            state = JsonSerializer.Deserialize<T>(json, GrainStateJson.Options);
        }
        catch (JsonException e)
        {
            LogUnreadableState(logger, e, providerName, grainId, stateName, typeof(T).FullName);
            throw new InvalidOperationException(
                $"Stored state '{stateName}' of grain {grainId} (provider {providerName}) does not deserialize as " +
                $"{typeof(T).FullName}: {e.Message}. Make the state type's change backward compatible or migrate the row.", e);
        }

        if (state is not null)
        {
            grainState.State = state;
        }

        grainState.ETag = Etag(reader.GetInt64(1));
        grainState.RecordExists = true;
        LogRead(logger, grainId, stateName, grainState.ETag);
    }

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(grainState);
        var json = JsonSerializer.Serialize(grainState.State, GrainStateJson.Options);
        await using var cmd = grainState.ETag is null
            ? db.CreateCommand(
                """
                INSERT INTO orleans_grain_state (service_id, grain_type, grain_key, state_name, state)
                VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT DO NOTHING
                RETURNING etag
                """)
            : db.CreateCommand(
                $"""
                UPDATE orleans_grain_state SET state = $5, etag = nextval('orleans_etag_seq'), updated_at = now()
                WHERE {KeyFilter} AND etag = $6
                RETURNING etag
                """);
        AddKey(cmd, stateName, grainId);
        cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = json, NpgsqlDbType = NpgsqlDbType.Jsonb });
        if (grainState.ETag is not null)
        {
            cmd.Parameters.Add(new NpgsqlParameter<long> { TypedValue = ParseEtag(grainState.ETag) });
        }

        if (await cmd.ExecuteScalarAsync(cancellationToken) is not long etag)
        {
            throw await ConflictAsync(stateName, grainId, grainState.ETag, "write", cancellationToken);
        }

        grainState.ETag = Etag(etag);
        grainState.RecordExists = true;
        LogWritten(logger, grainId, stateName, grainState.ETag);
    }

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(grainState);
        if (grainState.ETag is null)
        {
            // Nothing we know of to delete; a row someone else wrote in the meantime is a conflict.
            var stored = await ReadEtagAsync(stateName, grainId, cancellationToken);
            if (stored is not null)
            {
                throw Conflict(stateName, grainId, null, stored, "clear");
            }
        }
        else
        {
            await using var cmd = db.CreateCommand($"DELETE FROM orleans_grain_state WHERE {KeyFilter} AND etag = $5");
            AddKey(cmd, stateName, grainId);
            cmd.Parameters.Add(new NpgsqlParameter<long> { TypedValue = ParseEtag(grainState.ETag) });
            if (await cmd.ExecuteNonQueryAsync(cancellationToken) == 0)
            {
                throw await ConflictAsync(stateName, grainId, grainState.ETag, "clear", cancellationToken);
            }
        }

        grainState.ETag = null;
        grainState.RecordExists = false;
    }

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        ReadStateAsync(stateName, grainId, grainState, CancellationToken.None);

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        WriteStateAsync(stateName, grainId, grainState, CancellationToken.None);

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        ClearStateAsync(stateName, grainId, grainState, CancellationToken.None);

    private void AddKey(NpgsqlCommand cmd, string stateName, GrainId grainId)
    {
        cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = serviceId });
        cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = grainId.Type.ToString() });
        cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = grainId.Key.ToString() });
        cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = stateName });
    }

    private async Task<string?> ReadEtagAsync(string stateName, GrainId grainId, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand($"SELECT etag FROM orleans_grain_state WHERE {KeyFilter}");
        AddKey(cmd, stateName, grainId);
        return await cmd.ExecuteScalarAsync(ct) is long etag ? Etag(etag) : null;
    }

    private async Task<InconsistentStateException> ConflictAsync(
        string stateName, GrainId grainId, string? currentEtag, string operation, CancellationToken ct) =>
        Conflict(stateName, grainId, currentEtag, await ReadEtagAsync(stateName, grainId, ct), operation);

    private InconsistentStateException Conflict(
        string stateName, GrainId grainId, string? currentEtag, string? storedEtag, string operation)
    {
        LogConflict(logger, operation, grainId, stateName, currentEtag ?? "none", storedEtag ?? "none");
        return new InconsistentStateException(
            $"Cannot {operation} state '{stateName}' of grain {grainId} (provider {providerName}): it was changed by " +
            $"another writer (this activation read etag {currentEtag ?? "none"}, storage has {storedEtag ?? "none"}).",
            storedEtag ?? "none",
            currentEtag ?? "none");
    }

    /// <summary>An etag we did not hand out can never match; -1 is never produced by the sequence.</summary>
    private static long ParseEtag(string etag) =>
        long.TryParse(etag, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : -1;

    private static string Etag(long value) => value.ToString(CultureInfo.InvariantCulture);

    [LoggerMessage(Level = LogLevel.Trace, Message = "Read state {StateName} of {GrainId}, etag {ETag}")]
    private static partial void LogRead(ILogger logger, GrainId grainId, string stateName, string? eTag);

    [LoggerMessage(Level = LogLevel.Trace, Message = "Wrote state {StateName} of {GrainId}, etag {ETag}")]
    private static partial void LogWritten(ILogger logger, GrainId grainId, string stateName, string? eTag);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Grain state {Operation} conflict on {StateName} of {GrainId}: activation had etag {CurrentEtag}, storage has {StoredEtag}")]
    private static partial void LogConflict(ILogger logger, string operation, GrainId grainId, string stateName, string currentEtag, string storedEtag);

    [LoggerMessage(Level = LogLevel.Error, Message = "Provider {Provider}: state {StateName} of {GrainId} does not deserialize as {Type}")]
    private static partial void LogUnreadableState(ILogger logger, Exception exception, string provider, GrainId grainId, string stateName, string? type);
}

/// <summary>
/// JSON shape of grain state: Orleans state types are plain records and classes marked
/// [GenerateSerializer], often with public fields; enums are stored by name so reordering an enum
/// does not silently change stored state, while numbers written earlier still read.
/// </summary>
internal static class GrainStateJson
{
    public static readonly JsonSerializerOptions Options = Create();

    private static JsonSerializerOptions Create()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            IncludeFields = true,
            Converters = { new JsonStringEnumConverter() },
        };
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}
