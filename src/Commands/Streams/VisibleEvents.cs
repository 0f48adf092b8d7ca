using EventProfiles.Domain.Identity;
using JasperFx.Events;
using Marten;
using Npgsql;

namespace EventProfiles.Commands.Streams;

/// <summary>
/// The versions of some streams that splits and merges moved away (issue 21 §1), by the one rule every fold follows
/// (<see cref="MovedEvents.Hidden"/>: hidden by a stream's moves, minus those an undo restored). Readers that query
/// stored events in SQL leave them out with <see cref="Sql"/>; readers holding whole streams use <see cref="VisibleEvents.Of"/>.
/// </summary>
public sealed class HiddenEvents
{
    public static readonly HiddenEvents None = new(new Dictionary<string, HashSet<long>>(StringComparer.Ordinal));

    private readonly Dictionary<string, HashSet<long>> _byStream;

    public HiddenEvents(Dictionary<string, HashSet<long>> byStream)
    {
        _byStream = byStream;
        Streams = byStream.SelectMany(s => s.Value.Select(_ => s.Key)).ToArray();
        Versions = byStream.SelectMany(s => s.Value).ToArray();
    }

    /// <summary>Parallel arrays (stream, version) of every hidden event, the parameters of <see cref="Sql"/>.</summary>
    public string[] Streams { get; }
    public long[] Versions { get; }

    public bool IsEmpty => Versions.Length == 0;

    public bool Contains(string stream, long version) => _byStream.TryGetValue(stream, out var hidden) && hidden.Contains(version);

    /// <summary>One stream's hidden versions (a parameter of <see cref="SqlForOneStream"/>).</summary>
    public long[] Of(string stream) => _byStream.TryGetValue(stream, out var hidden) ? hidden.ToArray() : [];

    /// <summary>
    /// The condition "this row of mt_events is visible", over the two array parameters <paramref name="streams"/>
    /// (text[]) and <paramref name="versions"/> (bigint[]) that take <see cref="Streams"/> and <see cref="Versions"/>.
    /// </summary>
    public static string Sql(string streams, string versions, string alias = "") =>
        // The pair's own column names, so that an unqualified stream_id/version means the outer row's.
        $"not exists (select 1 from unnest({streams}::text[], {versions}::bigint[]) as hidden(hidden_stream, hidden_version) " +
        $"where hidden_stream = {alias}stream_id and hidden_version = {alias}version)";

    /// <summary>The same for a query over one stream: <paramref name="versions"/> (bigint[]) takes <see cref="Of"/>.</summary>
    public static string SqlForOneStream(string versions, string alias = "") => $"not ({alias}version = any({versions}::bigint[]))";
}

/// <summary>
/// "A person's visible events", for every reader of stored events other than the folds (timeline, replay, export,
/// access exports, standard audiences and estimates, initialisation of calculated attributes): the events a split or
/// merge moved away are read under the person who received them, never twice, never under the one who gave them.
/// </summary>
public static class VisibleEvents
{
    /// <summary>The visible events of whole streams (any number of them, in any order), by the Domain rule.</summary>
    public static IReadOnlyList<IEvent> Of(IReadOnlyList<IEvent> events)
    {
        if (!events.Any(e => e.Data is IMovesEvents)) return events; // no stream here was split or merged: nothing to filter
        var hidden = events.GroupBy(e => e.StreamKey!, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => MovedEvents.Hidden(g.OrderBy(e => e.Version).Select(e => e.Data)), StringComparer.Ordinal);
        return events.Where(e => !hidden[e.StreamKey!].Contains(e.Version)).ToList();
    }

    /// <summary>
    /// The hidden events of these streams (null: of every stream), read from their moves only: one statement over the
    /// streams' split and merge events (by stream, through its index; for every stream, one pass over the events' types).
    /// </summary>
    public static async Task<HiddenEvents> HiddenAsync(IDocumentStore store, NpgsqlDataSource db, IReadOnlyCollection<string>? streams, CancellationToken ct)
    {
        if (streams is { Count: 0 }) return HiddenEvents.None;
        var moves = await MovesAsync(store, db, streams, ct);
        if (moves.Count == 0) return HiddenEvents.None;
        return new HiddenEvents(moves.GroupBy(m => m.Stream, StringComparer.Ordinal)
            .Select(g => (g.Key, Hidden: MovedEvents.Hidden(g.Select(m => m.Move))))
            .Where(s => s.Hidden.Count > 0)
            .ToDictionary(s => s.Key, s => s.Hidden, StringComparer.Ordinal));
    }

    /// <summary>The split and merge events of these streams (null: of every stream), in stream and version order.</summary>
    public static async Task<List<(string Stream, object Move)>> MovesAsync(IDocumentStore store, NpgsqlDataSource db, IReadOnlyCollection<string>? streams, CancellationToken ct)
    {
        var graph = (Marten.Events.EventGraph)((StoreOptions)store.Options).Events;
        var (split, merged) = (graph.EventMappingFor(typeof(PersonSplit)).EventTypeName, graph.EventMappingFor(typeof(PeopleMerged)).EventTypeName);
        await using var command = db.CreateCommand(
            $"select stream_id, type, data from {store.Options.Events.DatabaseSchemaName}.mt_events where type = any($1)" +
            (streams is null ? "" : " and stream_id = any($2)") + " order by stream_id, version");
        command.Parameters.Add(new NpgsqlParameter { Value = new[] { split, merged } });
        if (streams is not null) command.Parameters.Add(new NpgsqlParameter { Value = streams.ToArray() });
        command.CommandTimeout = 0; // over every stream it reads as long as the job that asked
        var serializer = store.Options.Serializer();
        var moves = new List<(string Stream, object Move)>();
        await using (var reader = await command.ExecuteReaderAsync(ct))
            while (await reader.ReadAsync(ct))
                moves.Add((reader.GetString(0), reader.GetString(1) == split
                    ? serializer.FromJson<PersonSplit>(reader, 2)
                    : serializer.FromJson<PeopleMerged>(reader, 2)));
        return moves;
    }
}
