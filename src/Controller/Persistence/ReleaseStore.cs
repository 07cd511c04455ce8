using OdooFleet.Controller.Domain;

namespace OdooFleet.Controller.Persistence;

internal sealed record RecordedRelease(OdooRelease Release, string Sha256, long SizeBytes, DateTimeOffset BuiltAt);

/// <summary>The releases table: which release artifacts were built, and the sha256 every rebuild must match.</summary>
internal sealed class ReleaseStore(Npgsql.NpgsqlDataSource db)
{
    public async Task<RecordedRelease?> FindAsync(OdooRelease release, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("SELECT sha256, size_bytes, built_at FROM releases WHERE series = $1 AND commit = $2");
        cmd.Parameters.AddWithValue(release.Series);
        cmd.Parameters.AddWithValue(release.Commit);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct)
            ? new RecordedRelease(release, reader.GetString(0), reader.GetInt64(1), reader.GetFieldValue<DateTimeOffset>(2))
            : null;
    }

    /// <summary>Records a build; the first record wins, and the one that stands is returned.</summary>
    public async Task<RecordedRelease> RecordAsync(OdooRelease release, string sha256, long sizeBytes, DateTimeOffset now, CancellationToken ct)
    {
        await using (var cmd = db.CreateCommand(
            "INSERT INTO releases (series, commit, sha256, size_bytes, built_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING"))
        {
            cmd.Parameters.AddWithValue(release.Series);
            cmd.Parameters.AddWithValue(release.Commit);
            cmd.Parameters.AddWithValue(sha256);
            cmd.Parameters.AddWithValue(sizeBytes);
            cmd.Parameters.AddWithValue(now);
            await cmd.ExecuteNonQueryAsync(ct);
        }

        return await FindAsync(release, ct) ?? throw new InvalidOperationException($"release {release} vanished right after it was recorded");
    }
}
