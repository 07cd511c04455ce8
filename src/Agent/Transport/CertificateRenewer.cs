using System.Security.Cryptography;
using Grpc.Core;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OdooFleet.Agent.Configuration;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Agent.Transport;

internal enum RenewalState
{
    /// <summary>Too early: wait until <see cref="RenewalDecision.RenewAt"/>.</summary>
    NotDue,

    /// <summary>Two thirds of the lifetime have passed: renew now.</summary>
    Due,

    /// <summary>Past NotAfter: the controller will refuse it; only a new enrollment helps.</summary>
    Expired,
}

internal readonly record struct RenewalDecision(RenewalState State, DateTimeOffset RenewAt);

internal static class RenewalSchedule
{
    /// <summary>Renew once 2/3 of [notBefore, notAfter] has passed: early enough to retry for the last third.</summary>
    public static RenewalDecision Decide(DateTimeOffset notBefore, DateTimeOffset notAfter, DateTimeOffset now)
    {
        var renewAt = notBefore + ((notAfter - notBefore) * 2 / 3);
        var state = now > notAfter ? RenewalState.Expired : now >= renewAt ? RenewalState.Due : RenewalState.NotDue;
        return new RenewalDecision(state, renewAt);
    }
}

/// <summary>
/// Renews the client certificate when 2/3 of its lifetime has passed: a new key, a CSR, the answer
/// checked like an enrollment's (same CA, our new key, same host), swapped in without a restart and
/// written to the identity file (with a changed command signing key to agent.json).
/// </summary>
internal sealed partial class CertificateRenewer(
    AgentConfig config,
    string configPath,
    IdentityHolder identity,
    ControllerClient controller,
    TimeProvider time,
    ILogger<CertificateRenewer> logger) : BackgroundService
{
    /// <summary>Longest single wait, so a changed clock is noticed within the hour.</summary>
    private static readonly TimeSpan MaxWait = TimeSpan.FromHours(1);

    private readonly Backoff backoff = new(TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(5), Random.Shared, time);

    /// <summary>Set when a renewed identity is in use but not yet on disk.</summary>
    private VerifiedIdentity? unsaved;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (true)
            {
                await StepAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutdown.
        }
    }

    /// <summary>One turn: save what is unsaved, or wait, renew, or report expiry.</summary>
    internal async Task StepAsync(CancellationToken ct)
    {
        if (unsaved is { } pending)
        {
            if (!await TrySaveAsync(pending, ct))
            {
                await backoff.DelayAsync(ct);
            }

            return;
        }

        var certificate = identity.Identity.Certificate;
        var now = time.GetUtcNow();
        var decision = RenewalSchedule.Decide(certificate.NotBefore.ToUniversalTime(), certificate.NotAfter.ToUniversalTime(), now);
        switch (decision.State)
        {
            case RenewalState.NotDue:
                var wait = decision.RenewAt - now;
                await Task.Delay(wait < MaxWait ? wait : MaxWait, time, ct);
                return;
            case RenewalState.Expired:
                LogExpired(logger, config.HostId, certificate.NotAfter.ToUniversalTime());
                await Task.Delay(MaxWait, time, ct);
                return;
            default:
                if (await TryRenewAsync(ct))
                {
                    backoff.Reset();
                }
                else
                {
                    await backoff.DelayAsync(ct);
                }

                return;
        }
    }

    private async Task<bool> TryRenewAsync(CancellationToken ct)
    {
        var url = controller.CurrentUrl;
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        try
        {
            var csr = FleetTrust.CreateCsr(key, config.HostId);
            var response = await controller.Client.RenewCertificateAsync(
                new RenewCertificateRequest { Csr = Google.Protobuf.ByteString.CopyFrom(csr) },
                deadline: DateTime.UtcNow + ControllerClient.CallTimeout,
                cancellationToken: ct);
            var current = identity.Identity;
            var verified = FleetTrust.CheckIdentity(response.Identity, FleetTrust.Fingerprint(current.Ca), key, config.HostId, time.GetUtcNow());
            var next = Configuration.AgentIdentity.Create(key, verified.Certificate, verified.Ca);
            key = null;
            verified.Certificate.Dispose();
            verified.Ca.Dispose();
            identity.Replace(next);
            if (verified.CommandSigningKeyId != identity.Verifier.KeyId || !verified.CommandSigningKey.AsSpan().SequenceEqual(identity.Verifier.SubjectPublicKeyInfo))
            {
                identity.Replace(new CommandVerifier(verified.CommandSigningKey, verified.CommandSigningKeyId));
                LogSigningKeyChanged(logger, verified.CommandSigningKeyId);
            }

            // New connections present the new certificate; the controller may already refuse the old one.
            controller.ResetChannels();
            LogRenewed(logger, next.Certificate.SerialNumber, next.Certificate.NotAfter.ToUniversalTime());
            unsaved = verified;
            await TrySaveAsync(verified, ct);
            return true;
        }
        catch (RpcException e) when (!ct.IsCancellationRequested)
        {
            LogRenewFailed(logger, url, $"{e.StatusCode}: {e.Status.Detail}");
            if (ControllerClient.IsTransient(e))
            {
                controller.FailOver(url);
            }

            return false;
        }
        catch (IdentityException e)
        {
            LogRenewFailed(logger, url, $"the controller's answer failed the identity check: {e.Message}");
            return false;
        }
        finally
        {
            key?.Dispose();
        }
    }

    /// <summary>Writes the identity in use (and a changed signing key) to disk; false (logged) if it could not.</summary>
    private async Task<bool> TrySaveAsync(VerifiedIdentity verified, CancellationToken ct)
    {
        try
        {
            await identity.Identity.SaveAsync(config.IdentityPath, ct);
            var onDisk = await AgentConfig.LoadAsync(configPath, ct);
            var signingKey = Convert.ToBase64String(verified.CommandSigningKey);
            if (onDisk.CommandSigningKey != signingKey || onDisk.CommandSigningKeyId != verified.CommandSigningKeyId)
            {
                await (onDisk with { CommandSigningKey = signingKey, CommandSigningKeyId = verified.CommandSigningKeyId }).SaveAsync(configPath, ct);
            }

            unsaved = null;
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ConfigException)
        {
            LogSaveFailed(logger, config.IdentityPath, configPath, e.Message);
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "client certificate renewed: serial {Serial}, valid until {NotAfter:O}")]
    private static partial void LogRenewed(ILogger logger, string serial, DateTime notAfter);

    [LoggerMessage(Level = LogLevel.Information, Message = "the controller's command signing key changed to key id {KeyId}")]
    private static partial void LogSigningKeyChanged(ILogger logger, string keyId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "certificate renewal at {Url} failed: {Reason}; retrying with backoff")]
    private static partial void LogRenewFailed(ILogger logger, string url, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "renewed identity is in use but could not be written ({IdentityPath}, {ConfigPath}): {Error}; retrying (a restart before it is written loses the new certificate)")]
    private static partial void LogSaveFailed(ILogger logger, string identityPath, string configPath, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "the client certificate of host {HostId} expired at {NotAfter:O}; the controller refuses it. Re-enroll this host: `fleet token create` on the controller, then `odoofleet-agent enroll --force --token NEW_TOKEN ...` here")]
    private static partial void LogExpired(ILogger logger, string hostId, DateTime notAfter);
}
