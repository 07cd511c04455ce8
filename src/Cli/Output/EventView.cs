using System.Text.Json;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Cli.Output;

/// <summary>Domain events as table rows, plain lines and JSON. Pure.</summary>
internal static class EventView
{
    public static EventJson ToJson(FleetEventRecord e) => new(e.Id, e.Type, e.Subject, Data(e.DataJson), Formats.Iso(e.OccurredAt));

    public static IReadOnlyList<string> ToRow(FleetEventRecord e) =>
    [
        Formats.Iso(e.OccurredAt) ?? "-",
        PlanView.Printable(e.Type),
        e.Subject.Length > 0 ? PlanView.Printable(e.Subject) : "-",
        OneLine(e.DataJson),
    ];

    /// <summary>What --follow prints per event: the table's columns, separated by two spaces.</summary>
    public static string Line(FleetEventRecord e) => string.Join("  ", ToRow(e));

    /// <summary>The event's data on one line (compact JSON), for a table cell.</summary>
    public static string OneLine(string dataJson)
    {
        if (dataJson.Length == 0)
        {
            return "-";
        }

        var data = Data(dataJson);
        var text = data.ValueKind == JsonValueKind.String ? data.GetString() ?? "" : Compact(data);
        return PlanView.Printable(text).Replace('\n', ' ').Replace('\t', ' ');
    }

    private static string Compact(JsonElement element)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            element.WriteTo(writer);
        }

        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Event data as a JSON value: the stored object, or the text itself if it is not JSON.</summary>
    public static JsonElement Data(string dataJson)
    {
        if (dataJson.Length > 0)
        {
            try
            {
                using var document = JsonDocument.Parse(dataJson);
                return document.RootElement.Clone();
            }
            catch (JsonException)
            {
                // Shown as a string rather than dropped: the caller still sees what the controller stored.
            }
        }

        return JsonSerializer.SerializeToElement(dataJson, OutputJsonContext.Default.String);
    }
}
