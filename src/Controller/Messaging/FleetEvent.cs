namespace OdooFleet.Controller.Messaging;

/// <summary>
/// A domain event as integrations receive it on the "fleet.events" topic exchange; the routing
/// key is <see cref="Type"/> (e.g. "RolloutCompleted"). <see cref="Data"/> is the event's JSON.
/// </summary>
public sealed record FleetEvent(long Id, DateTimeOffset OccurredAt, string Type, string Subject, string Data);
