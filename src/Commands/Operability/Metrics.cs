using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace EventProfiles.Commands.Operability;

/// <summary>
/// Our own instruments (meter <see cref="MeterName"/>), recorded where the work happens. On the hot path they are
/// counters and one histogram with at most three tags in a stack-allocated <see cref="TagList"/>: nothing is allocated
/// per request, and an instrument nobody listens to (no exporter configured) costs one enabled check. State kept in the
/// database (projection lag, data-subject requests, jobs) is read at scrape time instead (Host: <c>TelemetryGauges</c>).
/// Series names and labels are listed in docs/operations.md, "Telemetry".
/// </summary>
public static class Metrics
{
    public const string MeterName = "EventProfiles";
    public static readonly Meter Meter = new(MeterName);

    private static readonly Counter<long> Batches = Meter.CreateCounter<long>("eventprofiles.ingest.batches", "{batch}",
        "Batches handed to the ingestion pipeline, by input and outcome (stored, duplicate, failed)");
    private static readonly Counter<long> Events = Meter.CreateCounter<long>("eventprofiles.ingest.events", "{event}",
        "Events of stored batches, by input");
    private static readonly Histogram<double> Accepted = Meter.CreateHistogram<double>("eventprofiles.ingest.duration", "s",
        "From a request's batches entering the pipeline until all are committed (what the 202 waits for), by input",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });
    private static readonly Counter<long> Resolutions = Meter.CreateCounter<long>("eventprofiles.identity.resolutions", "{resolution}",
        "Batches and IDSync calls resolved to a person, by source (ingestion, idsync) and result (new_profile, existing_profile)");
    private static readonly Counter<long> Merges = Meter.CreateCounter<long>("eventprofiles.identity.merges", "{merge}",
        "People joined: alias jobs carried out (alias) and unique identities taken from another person (identity_taken)");
    private static readonly Counter<long> Races = Meter.CreateCounter<long>("eventprofiles.identity.races", "{group}",
        "Writer groups sent back to resolution because another writer claimed an identity first, by kind (unique_key, cross_node)");
    private static readonly Counter<long> Deliveries = Meter.CreateCounter<long>("eventprofiles.deliveries", "{delivery}",
        "Webhook POSTs of batches to outputs, by output and outcome (delivered, failed, refused)");
    private static readonly Counter<long> Retries = Meter.CreateCounter<long>("eventprofiles.delivery.retries", "{delivery}",
        "Delivery attempts after the first, by output");
    private static readonly Counter<long> DeadLetters = Meter.CreateCounter<long>("eventprofiles.delivery.dead_letters", "{delivery}",
        "Deliveries moved to the dead letters (refused, or failed on the last attempt), by output");

    private static readonly Counter<long> Held = Meter.CreateCounter<long>("eventprofiles.identity.merges_held", "{identity}",
        "Identity links the merge guards held (the batch was stored, the identity not linked), by reason");
    private static Domain.Identity.MergeGuardPolicy _guards = Domain.Identity.MergeGuardPolicy.Default;

    static Metrics()
    {
        Meter.CreateObservableGauge<int>("eventprofiles.identity.merge_guard_limit", () =>
        {
            var policy = _guards;
            return new[]
            {
                new Measurement<int>(policy.PeoplePerValue, new KeyValuePair<string, object?>("rule", Domain.Identity.MergeHoldReasons.ValueSharedByPeople)),
                new Measurement<int>(policy.IdentitiesPerTypePerDay, new KeyValuePair<string, object?>("rule", Domain.Identity.MergeHoldReasons.IdentitiesPerTypePerDay)),
                new Measurement<int>(policy.DevicesPerHour, new KeyValuePair<string, object?>("rule", Domain.Identity.MergeHoldReasons.DevicesPerHour)),
            };
        }, "1", "The org's merge guard policy: the limit of each rule (0: off)");
    }

    /// <summary>The policy the limit gauge reports (the org's, set at start-up and again when the identity settings change).</summary>
    public static void UseMergeGuards(Domain.Identity.MergeGuardPolicy policy) => _guards = policy;

    public static void MergeHeld(string reason, int count = 1)
    {
        if (Held.Enabled) Held.Add(count, new TagList { { "reason", reason } });
    }

    public static void BatchOutcome(string input, string outcome, int events)
    {
        if (Batches.Enabled) Batches.Add(1, new TagList { { "input", input }, { "outcome", outcome } });
        if (events > 0 && Events.Enabled) Events.Add(events, new TagList { { "input", input } });
    }

    public static void IngestDuration(string input, TimeSpan elapsed)
    {
        if (Accepted.Enabled) Accepted.Record(elapsed.TotalSeconds, new TagList { { "input", input } });
    }

    public static void Resolution(string source, bool newProfile)
    {
        if (Resolutions.Enabled)
            Resolutions.Add(1, new TagList { { "source", source }, { "result", newProfile ? "new_profile" : "existing_profile" } });
    }

    public static void Merge(string kind, int count = 1)
    {
        if (count > 0 && Merges.Enabled) Merges.Add(count, new TagList { { "kind", kind } });
    }

    public static void Race(string kind)
    {
        if (Races.Enabled) Races.Add(1, new TagList { { "kind", kind } });
    }

    public static void Delivery(string outputId, string outcome)
    {
        if (Deliveries.Enabled) Deliveries.Add(1, new TagList { { "output", outputId }, { "outcome", outcome } });
    }

    public static void Retry(string outputId)
    {
        if (Retries.Enabled) Retries.Add(1, new TagList { { "output", outputId } });
    }

    public static void DeadLetter(string outputId)
    {
        if (DeadLetters.Enabled) DeadLetters.Add(1, new TagList { { "output", outputId } });
    }
}
