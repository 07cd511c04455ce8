using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Reflection;
using OdooFleet.Agent.Metrics;

namespace OdooFleet.Agent.Facts;

internal sealed record HostFactsInfo(
    string Hostname,
    string OsId,
    string OsVersion,
    int CpuCores,
    long MemoryBytes,
    long DiskTotalBytes,
    IReadOnlyList<string> Addresses,
    string AgentVersion,
    string MachineId);

/// <summary>What this host is: read from /etc/os-release, /proc, /etc/machine-id and the network interfaces.</summary>
internal static class FactCollector
{
    public static string AgentVersion =>
        typeof(FactCollector).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? "0.0.0";

    public static HostFactsInfo Collect()
    {
        var osRelease = ParseOsRelease(MetricsSampler.ReadOrEmpty("/etc/os-release"));
        return new HostFactsInfo(
            Environment.MachineName.ToLowerInvariant(),
            osRelease.GetValueOrDefault("ID", ""),
            osRelease.GetValueOrDefault("VERSION_ID", ""),
            Environment.ProcessorCount,
            ProcParsers.MemInfoBytes(MetricsSampler.ReadOrEmpty("/proc/meminfo"), "MemTotal"),
            MetricsSampler.Disk("/opt/odoo").Total,
            Addresses(),
            AgentVersion,
            MetricsSampler.ReadOrEmpty("/etc/machine-id").Trim());
    }

    /// <summary>What the Odoo profile sizes and selects by, from this machine.</summary>
    public static Profiles.ProfileFacts ProfileFacts()
    {
        var facts = Collect();
        return new Profiles.ProfileFacts(facts.Hostname, facts.CpuCores, facts.MemoryBytes, facts.OsId, facts.OsVersion);
    }

    /// <summary>KEY=value pairs of os-release(5), quotes removed.</summary>
    public static Dictionary<string, string> ParseOsRelease(string text)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            var eq = line.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0 || line.StartsWith('#'))
            {
                continue;
            }

            values[line[..eq].Trim()] = line[(eq + 1)..].Trim().Trim('"', '\'');
        }

        return values;
    }

    private static List<string> Addresses()
    {
        try
        {
            return NetworkInterface.GetAllNetworkInterfaces()
                .Where(n => n.OperationalStatus == OperationalStatus.Up && n.NetworkInterfaceType != NetworkInterfaceType.Loopback)
                .SelectMany(n => n.GetIPProperties().UnicastAddresses)
                .Select(a => a.Address)
                .Where(a => a.AddressFamily == AddressFamily.InterNetwork || (a.AddressFamily == AddressFamily.InterNetworkV6 && !a.IsIPv6LinkLocal))
                .Select(a => a.ToString())
                .Distinct()
                .ToList();
        }
        catch (NetworkInformationException)
        {
            return [];
        }
    }
}
