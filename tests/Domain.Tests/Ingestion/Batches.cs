using System.Text.Json;
using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Ingestion;
using EventProfiles.Domain.Workspaces;

namespace EventProfiles.Domain.Tests.Ingestion;

/// <summary>Builds the decision's inputs from batch JSON, as the Events API would hand them over.</summary>
internal static class Batches
{
    public static readonly DateTimeOffset ReceivedAt = DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000);
    public const long Mpid = 4242;

    public static ParsedBatch Parse(string json)
    {
        var root = JsonSerializer.Deserialize<JsonElement>(json);
        var batch = root.Deserialize<Batch>()!;
        var data = root.TryGetProperty("events", out var events) && events.ValueKind == JsonValueKind.Array
            ? events.EnumerateArray().Select(e => e.TryGetProperty("data", out var d) ? d : JsonSerializer.Deserialize<JsonElement>("{}")).ToList()
            : [];
        var envelope = JsonSerializer.SerializeToElement(root.EnumerateObject().Where(p => p.Name != "events").ToDictionary(p => p.Name, p => p.Value));
        return new ParsedBatch(batch, envelope, data, json.Length);
    }

    public static IngestionContext Context(
        ParsedBatch batch,
        bool isNew = true,
        InputKind kind = InputKind.Server,
        DateTimeOffset? receivedAt = null,
        IReadOnlySet<string>? knownMessageIds = null,
        IReadOnlyList<IdentityKey>? link = null) =>
        new(Mpid, isNew, 1, "server", kind, "development", Guid.NewGuid(), receivedAt ?? ReceivedAt, false,
            link ?? batch.Identities(), knownMessageIds ?? new HashSet<string>(), IdentitySettings.Default);
}
