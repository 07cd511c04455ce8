using Grpc.Core;
using OdooFleet.Agent.Configuration;
using OdooFleet.Agent.Facts;
using OdooFleet.Agent.Transport;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Agent.Cli;

/// <summary>`enroll`: exchange a bootstrap token for a host identity and write the agent config.</summary>
internal static class EnrollCommand
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(30);

    public static async Task<int> RunAsync(ParsedArgs args, CancellationToken ct)
    {
        var urls = args.Values("controller").Select(u => u.Trim().TrimEnd('/')).ToList();
        var token = args.Value("token") ?? "";
        var configPath = args.Value("config") ?? AgentConfig.DefaultPath;
        if (urls.Count == 0)
        {
            throw new UsageException("enroll: --controller URL is required (the controller's agent endpoint, e.g. https://fleet.example.com:5001)");
        }

        if (token.Trim().Length == 0)
        {
            throw new UsageException("enroll: --token TOKEN is required; create one on the controller with `fleet token create`");
        }

        var invalid = urls.Select(ControllerUrl.Check).OfType<string>().ToList();
        if (invalid.Count > 0)
        {
            throw new UsageException(string.Join("\n", invalid));
        }

        if (File.Exists(configPath) && !args.Flag("force"))
        {
            await Console.Error.WriteLineAsync(
                $"error: this host is already enrolled ({configPath} exists); pass --force to enroll again (the old identity stops working once the controller removes it)");
            return ExitCodes.AlreadyEnrolled;
        }

        var facts = FactCollector.Collect();
        var request = new EnrollRequest { Token = token.Trim(), Name = args.Value("name") ?? "", Facts = facts.ToProto() };
        var unreachable = new List<string>();
        foreach (var url in urls)
        {
            using var channel = ControllerClient.CreateChannel(url);
            var client = new AgentService.AgentServiceClient(channel);
            EnrollResponse response;
            try
            {
                response = await client.EnrollAsync(request, deadline: DateTime.UtcNow.Add(CallTimeout), cancellationToken: ct);
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded)
            {
                unreachable.Add($"  {url}: {Describe(e)}");
                continue;
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.PermissionDenied or StatusCode.Unauthenticated)
            {
                await Console.Error.WriteLineAsync($"error: {url} refused the token: {e.Status.Detail}");
                return ExitCodes.TokenRefused;
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.InvalidArgument or StatusCode.AlreadyExists or StatusCode.FailedPrecondition)
            {
                await Console.Error.WriteLineAsync($"error: {url} rejected the enrollment: {e.Status.Detail}");
                return ExitCodes.EnrollRejected;
            }
            catch (RpcException e)
            {
                await Console.Error.WriteLineAsync($"error: enrollment at {url} failed: {e.StatusCode}: {Describe(e)}");
                return ExitCodes.Failed;
            }

            var config = new AgentConfig
            {
                HostId = response.HostId,
                AgentSecret = response.AgentSecret,
                ControllerUrls = AgentConfig.MergeControllerUrls(urls, response.ControllerUrls),
                Broker = new BrokerSettings
                {
                    Host = response.Broker?.Host ?? "",
                    Port = response.Broker?.Port is > 0 and var port ? port : 5672,
                    VirtualHost = response.Broker?.VirtualHost is { Length: > 0 } vhost ? vhost : "/",
                    Username = response.Broker?.Username ?? "",
                    Password = response.Broker?.Password ?? "",
                    Queue = response.Broker?.Queue ?? "",
                },
                Name = request.Name.Length > 0 ? request.Name : facts.Hostname,
                EnrolledAt = DateTimeOffset.UtcNow,
            };
            await config.SaveAsync(configPath, ct);
            // A new identity starts from generation 0: the old journal and cached spec belong to
            // the previous identity and would make this host ack its first commands as "done".
            if (Directory.Exists(config.StateDirectory))
            {
                File.Delete(config.JournalPath);
                File.Delete(config.SpecCachePath);
            }
            Console.WriteLine($"enrolled as {config.HostId} at {url}; config written to {configPath}");
            Console.WriteLine("start the agent: systemctl enable --now odoofleet-agent");
            return ExitCodes.Ok;
        }

        await Console.Error.WriteLineAsync(
            "error: no controller could be reached:\n" + string.Join("\n", unreachable) +
            "\ncheck the URL (scheme, host and port of the controller's agent endpoint), that the controller is running, " +
            "and that this host can reach it (DNS, firewall, TLS certificate)");
        return ExitCodes.ControllerUnreachable;
    }

    private static string Describe(RpcException e) =>
        e.Status.DebugException is { } inner ? $"{e.Status.Detail} ({inner.GetBaseException().Message})" : e.Status.Detail;
}
