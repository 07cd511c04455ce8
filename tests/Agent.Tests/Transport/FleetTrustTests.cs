using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Google.Protobuf;
using OdooFleet.Agent.Transport;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Agent.Tests.Transport;

/// <summary>Pin parsing, the enrollment server check and the identity check, with certificates made by a test CA.</summary>
public sealed class FleetTrustTests : IDisposable
{
    private const string HostId = "h-3kq9t2mzpa";
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;

    private readonly TestPki pki = new();
    private readonly TestPki other = new("impostor CA");
    private readonly ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public void Dispose()
    {
        pki.Dispose();
        other.Dispose();
        key.Dispose();
    }

    private byte[] Csr => FleetTrust.CreateCsr(key, "web-01");

    [Fact]
    public void ParsePin_HexWithColonsAndUpperCase_SameBytesAsPlain()
    {
        var hex = Convert.ToHexString(pki.Pin);
        var colons = string.Join(':', Enumerable.Range(0, 32).Select(i => hex.Substring(i * 2, 2)));

        Assert.Equal(pki.Pin, FleetTrust.ParsePin(colons));
        Assert.Equal(pki.Pin, FleetTrust.ParsePin(hex.ToLowerInvariant()));
    }

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("zz00000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("00000000000000000000000000000000000000000000000000000000000000000")]
    public void ParsePin_Invalid_SaysWhatIsExpected(string text) =>
        Assert.Contains("expected 64 hex digits", Assert.Throws<FormatException>(() => FleetTrust.ParsePin(text)).Message, StringComparison.Ordinal);

    /// <summary>The chain SslStream hands the callback: built from the server's certificates, untrusted root.</summary>
    private static X509Chain PresentedChain(X509Certificate2 leaf, params X509Certificate2[] sent)
    {
        var chain = new X509Chain();
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ExtraStore.AddRange(sent);
        chain.Build(leaf);
        return chain;
    }

    [Fact]
    public void CheckEnrollmentServer_ServerSendsPinnedCa_Trusted()
    {
        using var server = pki.IssueServer();
        using var chain = PresentedChain(server, pki.CaPublic);

        Assert.Null(FleetTrust.CheckEnrollmentServer(pki.Pin, null, server, chain, SslPolicyErrors.RemoteCertificateChainErrors, Now));
    }

    [Fact]
    public void CheckEnrollmentServer_ImpostorCa_RefusedNamingThePin()
    {
        using var server = other.IssueServer();
        using var chain = PresentedChain(server, other.CaPublic);

        var reason = FleetTrust.CheckEnrollmentServer(pki.Pin, null, server, chain, SslPolicyErrors.RemoteCertificateChainErrors, Now);

        Assert.Contains(Convert.ToHexStringLower(pki.Pin), reason, StringComparison.Ordinal);
    }

    [Fact]
    public void CheckEnrollmentServer_ImpostorSendsOurCaButItsOwnLeaf_Refused()
    {
        // Sending the fleet CA costs nothing (it is public); the leaf must chain to it.
        using var server = other.IssueServer();
        using var chain = PresentedChain(server, pki.CaPublic, other.CaPublic);

        var reason = FleetTrust.CheckEnrollmentServer(pki.Pin, null, server, chain, SslPolicyErrors.RemoteCertificateChainErrors, Now);

        Assert.Contains("does not chain to the fleet CA", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void CheckEnrollmentServer_NameMismatch_Refused()
    {
        using var server = pki.IssueServer();
        using var chain = PresentedChain(server, pki.CaPublic);

        var reason = FleetTrust.CheckEnrollmentServer(
            pki.Pin, null, server, chain, SslPolicyErrors.RemoteCertificateChainErrors | SslPolicyErrors.RemoteCertificateNameMismatch, Now);

        Assert.Contains("not for the host name", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void CheckEnrollmentServer_PinOfTheLeafNotACa_Refused()
    {
        using var server = pki.IssueServer();
        using var chain = PresentedChain(server, pki.CaPublic);

        var reason = FleetTrust.CheckEnrollmentServer(SHA256.HashData(server.RawData), null, server, chain, SslPolicyErrors.None, Now);

        Assert.Contains("not a CA certificate", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void CheckServer_ImpostorCaWithTheSameNameSignedTheLeaf_Refused()
    {
        using var lookalike = new TestPki("OdooFleet test CA");
        using var server = lookalike.IssueServer();
        using var ca = pki.CaPublic;

        Assert.NotNull(FleetTrust.CheckServer(ca, server, PresentedChain(server, lookalike.CaPublic), SslPolicyErrors.None, Now));
        Assert.NotNull(FleetTrust.CheckServer(ca, server, null, SslPolicyErrors.None, Now));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void CheckServer_FleetLeaf_TrustedWhetherTheCaIsSelfSignedOrAnchored(bool anchored)
    {
        using var fleet = new TestPki(anchored: anchored);
        using var server = fleet.IssueServer();
        using var ca = fleet.CaPublic;

        Assert.Null(FleetTrust.CheckServer(ca, server, null, SslPolicyErrors.RemoteCertificateChainErrors, Now));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void CheckServer_ExpiredAtVerificationTime_Refused(bool anchored)
    {
        using var fleet = new TestPki(anchored: anchored);
        using var server = fleet.IssueServer();
        using var ca = fleet.CaPublic;

        var reason = FleetTrust.CheckServer(ca, server, null, SslPolicyErrors.None, Now.AddYears(2));

        Assert.Contains("does not chain to the fleet CA", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void CheckIdentity_CertificateForOurKeyAndHost_Verified()
    {
        var verified = FleetTrust.CheckIdentity(pki.IdentityFor(Csr, HostId, Now.AddMinutes(-1), TimeSpan.FromDays(7)), pki.Pin, key, HostId, Now);

        Assert.Equal(pki.Ca.RawData, verified.Ca.RawData);
        Assert.Equal(pki.SigningKeyId, verified.CommandSigningKeyId);
        Assert.Equal([FleetTrust.HostUriPrefix + HostId], FleetTrust.SanUris(verified.Certificate));
    }

    [Fact]
    public void CheckIdentity_OtherCaThanPinned_Refused()
    {
        var identity = other.IdentityFor(Csr, HostId, Now.AddMinutes(-1), TimeSpan.FromDays(7));
        Assert.Contains("not the pinned", Assert.Throws<IdentityException>(() => FleetTrust.CheckIdentity(identity, pki.Pin, key, HostId, Now)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CheckIdentity_CertificateForAnotherKey_Refused()
    {
        using var stranger = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var identity = pki.IdentityFor(FleetTrust.CreateCsr(stranger, "web-01"), HostId, Now.AddMinutes(-1), TimeSpan.FromDays(7));

        var e = Assert.Throws<IdentityException>(() => FleetTrust.CheckIdentity(identity, pki.Pin, key, HostId, Now));

        Assert.Contains("not for the key this host made", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CheckIdentity_SanNamesAnotherHost_Refused()
    {
        var identity = pki.IdentityFor(Csr, HostId, Now.AddMinutes(-1), TimeSpan.FromDays(7));

        var e = Assert.Throws<IdentityException>(() => FleetTrust.CheckIdentity(identity, pki.Pin, key, "h-someoneelse", Now));

        Assert.Contains("urn:odoofleet:host:h-someoneelse", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CheckIdentity_CertificateExpiredAtVerificationTime_Refused()
    {
        var identity = pki.IdentityFor(Csr, HostId, Now.AddDays(-8), TimeSpan.FromDays(7));
        Assert.Contains("NotTimeValid", Assert.Throws<IdentityException>(() => FleetTrust.CheckIdentity(identity, pki.Pin, key, HostId, Now)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CheckIdentity_ClientCertificateNotSignedByTheCa_Refused()
    {
        // The pinned CA, but a certificate the impostor signed.
        var identity = pki.IdentityFor(Csr, HostId, Now.AddMinutes(-1), TimeSpan.FromDays(7));
        identity.Certificate = ByteString.CopyFrom(other.IssueClient(Csr, HostId, Now.AddMinutes(-1), TimeSpan.FromDays(7)));

        var e = Assert.Throws<IdentityException>(() => FleetTrust.CheckIdentity(identity, pki.Pin, key, HostId, Now));

        Assert.Contains("does not chain to the fleet CA", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CheckIdentity_SigningKeyIdNotOfTheKey_Refused()
    {
        var identity = pki.IdentityFor(Csr, HostId, Now.AddMinutes(-1), TimeSpan.FromDays(7));
        identity.CommandSigningKeyId = "0000000000000000";

        var e = Assert.Throws<IdentityException>(() => FleetTrust.CheckIdentity(identity, pki.Pin, key, HostId, Now));

        Assert.Contains("is not the id of command_signing_key", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CheckIdentity_NoIdentity_SaysControllerTooOld() =>
        Assert.Contains("no identity", Assert.Throws<IdentityException>(() => FleetTrust.CheckIdentity(null, pki.Pin, key, HostId, Now)).Message, StringComparison.Ordinal);

    [Fact]
    public void KeyId_IsFirstEightBytesOfSpkiSha256InLowercaseHex() =>
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(pki.SigningKeySpki))[..16], pki.SigningKeyId);
}
