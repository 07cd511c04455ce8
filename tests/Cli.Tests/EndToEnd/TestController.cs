using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace OdooFleet.Cli.Tests.EndToEnd;

/// <summary>A real gRPC server (Kestrel, HTTP/2 cleartext) on 127.0.0.1 and a random port, serving a FakeFleetService.</summary>
internal sealed class TestController : IAsyncDisposable
{
    private readonly WebApplication app;

    private TestController(WebApplication app, FakeFleetService service, string address)
    {
        this.app = app;
        Service = service;
        Address = address;
    }

    public FakeFleetService Service { get; }

    public string Address { get; }

    public static async Task<TestController> StartAsync(FakeFleetService? service = null)
    {
        service ??= new FakeFleetService();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(service);
        var app = builder.Build();
        app.MapGrpcService<FakeFleetService>();
        await app.StartAsync(TestContext.Current.CancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new TestController(app, service, address);
    }

    /// <summary>An address nothing listens on: a port the OS just handed out and took back.</summary>
    public static string UnusedAddress()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return $"http://127.0.0.1:{port}";
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }
}
