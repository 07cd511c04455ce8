using Npgsql;
using NpgsqlTypes;

namespace OdooFleet.Controller.Persistence;

internal sealed record StoredEvent(long Id, DateTimeOffset OccurredAt, string Type, string Subject, string DataJson);

/// <summary>
/// The events table doubles as a transactional outbox: an event is written in the same
/// transaction as the state change it announces, and <see cref="Messaging.OutboxPublisher"/>
/// forwards it to RabbitMQ afterwards, so nothing is announced that was not persisted and
/// nothing persisted is lost on the way to the broker.
/// </summary>
internal sealed class EventStore(NpgsqlDataSource db)
{
    public static async Task AppendAsync(
        NpgsqlConnection conn, NpgsqlTransaction? tx, string type, string subject, string dataJson, DateTimeOffset now, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(
            "INSERT INTO events (occurred_at, type, subject, data) VALUES ($1, $2, $3, $4)", conn, tx);
        cmd.Parameters.AddWithValue(now);
        cmd.Parameters.AddWithValue(type);
        cmd.Parameters.AddWithValue(subject);
        cmd.Parameters.AddWithValue(NpgsqlDbType.Jsonb, dataJson);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    public async Task AppendAsync(string type, string subject, string dataJson, DateTimeOffset now, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await AppendAsync(conn, null, type, subject, dataJson, now, ct);
    }

    public const int MaxListLimit = 10_000;

    /// <summary>The newest <paramref name="limit"/> events since <paramref name="since"/> (optionally of a type prefix and one subject), oldest first.</summary>
    public async Task<IReadOnlyList<StoredEvent>> ListAsync(
        DateTimeOffset since, string? typePrefix, string? subject, int limit, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            """
            SELECT id, occurred_at, type, subject, data::text FROM (
                SELECT * FROM events
                WHERE occurred_at >= $1 AND ($2::text IS NULL OR starts_with(type, $2)) AND ($3::text IS NULL OR subject = $3)
                ORDER BY id DESC LIMIT $4) newest
            ORDER BY id
            """);
        cmd.Parameters.AddWithValue(since);
        cmd.Parameters.Add(new NpgsqlParameter { Value = (object?)typePrefix ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.Add(new NpgsqlParameter { Value = (object?)subject ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.AddWithValue(limit);
        var list = new List<StoredEvent>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            list.Add(new StoredEvent(reader.GetInt64(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetString(2), reader.GetString(3), reader.GetString(4)));
        }

        return list;
    }

    /// <summary>
    /// Locks up to <paramref name="limit"/> unpublished events (skipping rows another controller
    /// holds), hands them to <paramref name="publish"/>, and marks them published in the same
    /// transaction. A crash before commit leaves them unpublished for the next pass.
    /// </summary>
    public async Task<int> PublishPendingAsync(
        int limit, Func<IReadOnlyList<StoredEvent>, CancellationToken, Task> publish, DateTimeOffset now, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var batch = new List<StoredEvent>();
        await using (var select = new NpgsqlCommand(
            """
            SELECT id, occurred_at, type, subject, data::text FROM events
            WHERE published_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
            """, conn, tx))
        {
            select.Parameters.AddWithValue(limit);
            await using var reader = await select.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                batch.Add(new StoredEvent(
                    reader.GetInt64(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetString(2), reader.GetString(3), reader.GetString(4)));
            }
        }

        if (batch.Count == 0)
        {
            return 0;
        }

        await publish(batch, ct);
        await using (var mark = new NpgsqlCommand("UPDATE events SET published_at = $1 WHERE id = ANY($2)", conn, tx))
        {
            mark.Parameters.AddWithValue(now);
            mark.Parameters.AddWithValue(batch.Select(e => e.Id).ToArray());
            await mark.ExecuteNonQueryAsync(ct);
        }

        await tx.CommitAsync(ct);
        return batch.Count;
    }
}
