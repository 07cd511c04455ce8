using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using OdooFleet.Agent.Configuration;

namespace OdooFleet.Agent.Tests.Transport;

public sealed class AgentIdentityTests : IDisposable
{
    private readonly TestPki pki = new();
    private readonly TempDirectory temp = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose()
    {
        pki.Dispose();
        temp.Dispose();
    }

    [Fact]
    public async Task SaveAsync_ThenLoadAsync_OnePemFileMode0600WithKeyCertificateAndCa()
    {
        var path = temp.Combine("etc", "agent-identity.pem");
        using var identity = pki.HostIdentity("h-1", DateTimeOffset.UtcNow.AddMinutes(-1), TimeSpan.FromDays(7));

        await identity.SaveAsync(path, Ct);
        using var loaded = await AgentIdentity.LoadAsync(path, Ct);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        var text = await File.ReadAllTextAsync(path, Ct);
        Assert.Equal(["PRIVATE KEY", "CERTIFICATE", "CERTIFICATE"], Labels(text));
        Assert.Equal(identity.Certificate.RawData, loaded.Certificate.RawData);
        Assert.Equal(pki.Ca.RawData, loaded.Ca.RawData);
        Assert.True(loaded.Certificate.HasPrivateKey);
        using var signer = loaded.Certificate.GetECDsaPrivateKey()!;
        using var verifier = identity.Certificate.GetECDsaPublicKey()!;
        Assert.True(verifier.VerifyData("x"u8, signer.SignData("x"u8, HashAlgorithmName.SHA256), HashAlgorithmName.SHA256));
    }

    [Fact]
    public void Parse_CertificateOfAnotherKey_Refused()
    {
        using var a = pki.HostIdentity("h-1", DateTimeOffset.UtcNow.AddMinutes(-1), TimeSpan.FromDays(7));
        using var b = pki.HostIdentity("h-1", DateTimeOffset.UtcNow.AddMinutes(-1), TimeSpan.FromDays(7));
        var mixed = string.Join("\n", Blocks(a.ToPem())[0], Blocks(b.ToPem())[1], Blocks(b.ToPem())[2]);

        Assert.Contains("not for the private key", Assert.Throws<CryptographicException>(() => AgentIdentity.Parse(mixed)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LoadAsync_Missing_SaysToReEnroll() =>
        Assert.Contains(
            "re-enroll",
            (await Assert.ThrowsAsync<ConfigException>(() => AgentIdentity.LoadAsync(temp.Combine("none.pem"), Ct))).Message,
            StringComparison.Ordinal);

    private static List<string> Labels(string pem) =>
        Blocks(pem).Select(b => b.Split('\n')[0].Replace("-----BEGIN ", "", StringComparison.Ordinal).Replace("-----", "", StringComparison.Ordinal)).ToList();

    private static List<string> Blocks(string pem) =>
        pem.Split("-----BEGIN ", StringSplitOptions.RemoveEmptyEntries).Select(b => "-----BEGIN " + b.Trim()).ToList();
}
