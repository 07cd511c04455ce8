using Npgsql;

namespace OdooFleet.Controller.Security;

/// <summary>One issued client certificate (table host_certificates).</summary>
internal sealed record HostCertificate(string Serial, DateTimeOffset IssuedAt, DateTimeOffset NotAfter);

/// <summary>Where a presented certificate stands in the fleet's records.</summary>
internal enum CertificateStanding
{
    Valid,
    HostRemoved,
    UnknownSerial,
    Revoked,
}

/// <summary>Every client certificate the fleet CA issued, per host (migration 0006). Deleting a host deletes its rows.</summary>
internal sealed class HostCertificateStore(NpgsqlDataSource db)
{
    private const string Insert = "INSERT INTO host_certificates (serial, host_id, issued_at, not_after) VALUES ($1, $2, $3, $4)";

    /// <summary>Records a certificate of an existing host; false if the host is gone (removed meanwhile).</summary>
    public async Task<bool> RecordAsync(string hostId, HostCertificate certificate, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(Insert);
        AddParameters(cmd, hostId, certificate);
        try
        {
            await cmd.ExecuteNonQueryAsync(ct);
            return true;
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.ForeignKeyViolation)
        {
            return false;
        }
    }

    /// <summary>Records a certificate inside the caller's transaction (enrollment: with the host row it names).</summary>
    public static async Task RecordAsync(NpgsqlConnection conn, NpgsqlTransaction tx, string hostId, HostCertificate certificate, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(Insert, conn, tx);
        AddParameters(cmd, hostId, certificate);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    public async Task<CertificateStanding> CheckAsync(string hostId, string serial, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("""
            SELECT EXISTS (SELECT 1 FROM hosts WHERE id = $1),
                   (SELECT revoked_at IS NOT NULL FROM host_certificates WHERE serial = $2 AND host_id = $1)
            """);
        cmd.Parameters.AddWithValue(hostId);
        cmd.Parameters.AddWithValue(serial);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return !reader.GetBoolean(0) ? CertificateStanding.HostRemoved
            : reader.IsDBNull(1) ? CertificateStanding.UnknownSerial
            : reader.GetBoolean(1) ? CertificateStanding.Revoked
            : CertificateStanding.Valid;
    }

    private static void AddParameters(NpgsqlCommand cmd, string hostId, HostCertificate certificate)
    {
        cmd.Parameters.AddWithValue(certificate.Serial);
        cmd.Parameters.AddWithValue(hostId);
        cmd.Parameters.AddWithValue(certificate.IssuedAt);
        cmd.Parameters.AddWithValue(certificate.NotAfter);
    }
}
