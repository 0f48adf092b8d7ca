using EventProfiles.Commands.Forwarding;
using EventProfiles.Projections.Privacy;
using EventProfiles.Domain.Audiences;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Profiles;
using EventProfiles.Domain.Workspaces;
using EventProfiles.Projections.CalculatedAttributes;
using EventProfiles.Projections.Profiles;
using Marten;
using Microsoft.Extensions.Logging;
using Npgsql;
using Wolverine;
using Wolverine.Attributes;

namespace EventProfiles.Commands.Audiences;

/// <summary>Durable job: calculate a standard audience once over its date range.</summary>
public sealed record CalculateStandardAudience(int AudienceId, Guid Activation);

/// <summary>How far a standard audience's calculation got.</summary>
public sealed class StandardCalculation
{
    /// <summary>The audience's id.</summary>
    public int Id { get; set; }
    public Guid Activation { get; set; }
    public long PeopleTotal { get; set; }
    public long PeopleDone { get; set; }
    public long EventsRead { get; set; }
    public long Members { get; set; }
    public DateTimeOffset StartedAt { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }
}

/// <summary>
/// Standard audiences (§B1): every person of the audience's workspaces is evaluated once — aged-out people too, with
/// their archived events (retention, not the profile lifetime, bounds what a standard audience reads) — by replaying their stored
/// events of the date range (each event criterion counts the matching events in the whole range) with their current
/// profile, by the same pure evaluation as real-time audiences. Members are stored, then sent once to every connected
/// output. Streams are read in key order, 500 people per transaction.
/// </summary>
public static class CalculateStandardAudienceHandler
{
    [MessageTimeout(24 * 60 * 60)]
    public static async Task<OutgoingMessages> Handle(CalculateStandardAudience job, IDocumentStore store, NpgsqlDataSource db, WorkspaceDirectory directory,
        TimeProvider clock, ILogger<CalculateStandardAudience> logger, CancellationToken ct)
    {
        var messages = new OutgoingMessages();
        await using var query = store.QuerySession();
        var audience = await query.LoadAsync<Audience>(job.AudienceId, ct);
        if (audience is not { Status: AudienceStatus.Calculating, Kind: AudienceKinds.Standard } || audience.Activation != job.Activation) return messages;
        var range = audience.DateRange ?? new DateRange(null, null);
        var now = clock.GetUtcNow();
        var active = StandardEvaluation.Audience(audience.Id, audience.ExternalName, job.Activation, audience.WorkspaceIds, audience.Criteria, range, standard: true, lookbackDays: 30, now);

        var progress = new StandardCalculation { Id = audience.Id, Activation = job.Activation, StartedAt = now };
        var members = new List<long>();
        var finished = await StandardEvaluation.RunAsync(store, db, audience.WorkspaceIds, active, range, now, standard: true, async chunk =>
        {
            await using var session = store.LightweightSession();
            foreach (var mpid in chunk.Members)
            {
                members.Add(mpid);
                session.Store(new AudienceMember { Id = AudienceMember.IdFor(audience.Id, mpid), AudienceId = audience.Id, Mpid = mpid, Since = now, Activation = job.Activation });
            }
            (progress.PeopleTotal, progress.PeopleDone, progress.EventsRead, progress.Members) = (chunk.PeopleTotal, chunk.PeopleDone, chunk.EventsRead, members.Count);
            session.Store(progress);
            var latest = await session.LoadAsync<Audience>(audience.Id, ct);
            if (latest?.Activation != job.Activation) return false; // recalculated or deleted meanwhile
            await session.SaveChangesAsync(ct);
            return true;
        }, ct);
        if (!finished) return messages;

        await using (var session = store.LightweightSession())
        {
            var latest = await session.LoadAsync<Audience>(audience.Id, ct);
            if (latest?.Activation != job.Activation) return messages;
            progress.FinishedAt = clock.GetUtcNow();
            latest.Status = AudienceStatus.Ready;
            latest.CalculatedOn = progress.FinishedAt;
            session.Store(progress);
            session.Store(latest);
            var sends = await StandardAudienceSend.MessagesAsync(latest, members, session, directory, progress.FinishedAt.Value, ct);
            await session.SaveChangesAsync(ct);
            messages.AddRange(sends);
        }
        logger.LogInformation("Standard audience {Id} calculated: {Members} of {People} people, {Events} events read in {Seconds:0.0} s",
            audience.Id, members.Count, progress.PeopleTotal, progress.EventsRead, (progress.FinishedAt!.Value - progress.StartedAt).TotalSeconds);
        return messages;
    }
}

/// <summary>
/// The evaluation of everyone in some workspaces over a range of stored events, shared by standard audiences and by the
/// console's size estimates: each event criterion becomes a counter fed by replaying the person's events of the range,
/// and the person is judged with their current profile by the pure evaluation real-time audiences use. Streams are read
/// in key order, 500 people at a time; after each chunk the caller records progress (and may stop).
/// </summary>
public static class StandardEvaluation
{
    private const int PeoplePerChunk = 500;

    /// <summary>One chunk's outcome: its members, and how far the whole run got.</summary>
    public sealed record Chunk(IReadOnlyList<long> Members, long PeopleTotal, long PeopleDone, long EventsRead);

    /// <summary>
    /// The audience as evaluated here. <paramref name="standard"/>: each event criterion counts its events over the whole
    /// range (a "since" counter); otherwise (a real-time audience's estimate) each keeps its own window within the lookback.
    /// </summary>
    public static ActiveAudience Audience(int id, string name, Guid activation, IReadOnlyList<int> workspaces, IReadOnlyList<Criterion> criteria,
        DateRange range, bool standard, int lookbackDays, DateTimeOffset now)
    {
        var counters = new Dictionary<int, ActiveDefinition>();
        for (var i = 0; i < criteria.Count; i++)
        {
            var c = criteria[i];
            if (c.Kind != CriterionKinds.Event) continue;
            var definition = Domain.Audiences.Audience.CounterFor(c, standard ? 30 : lookbackDays);
            if (standard)
                definition = definition with
                {
                    TimePeriod = new TimePeriod { Type = TimePeriodTypes.Since, Date = range.From is null ? DateTimeOffset.MinValue : range.Start },
                };
            counters[i] = new ActiveDefinition(-(i + 1), c.WorkspaceId ?? workspaces[0], $"criterion {i + 1}", activation, definition);
        }
        return new ActiveAudience(id, name, activation, workspaces, criteria, counters, 0);
    }

    /// <summary>Evaluates everyone; false when <paramref name="afterChunk"/> asked to stop.</summary>
    public static async Task<bool> RunAsync(IDocumentStore store, NpgsqlDataSource db, IReadOnlyList<int> workspaces, ActiveAudience active, DateRange range,
        DateTimeOffset now, bool standard, Func<Chunk, Task<bool>> afterChunk, CancellationToken ct)
    {
        await using var query = store.QuerySession();
        var counters = active.Counters;
        var people = await PeopleAsync(db, store.Options.DatabaseSchemaName, workspaces, ct);
        long done = 0, eventsRead = 0;
        await using var events = new EventReader(store, db, workspaces, counters.Values.Select(c => c.Definition.Selector!.EventType!).Distinct().ToArray(), range);
        foreach (var chunk in people.Chunk(PeoplePerChunk))
        {
            var keys = chunk.Select(StreamKey.For).ToArray();
            var batch = query.CreateBatchQuery();
            var profiles = batch.LoadMany<Profile>().ById(keys);
            var computed = batch.LoadMany<PersonCalculations>().ById(keys);
            var replayed = batch.Query<InitialisedCalculation>().Where(c => chunk.Contains(c.Mpid)).ToList();
            var attributes = batch.Query<CalculatedAttribute>().Where(c => c.Status == CalculatedAttributeStatus.Active).ToList();
            await batch.Execute(ct);
            var profileByMpid = (await profiles).ToDictionary(p => p.Mpid);
            var computedByMpid = (await computed).ToDictionary(p => p.Mpid);
            var replayedByMpid = (await replayed).ToLookup(r => r.Mpid);
            var visible = await attributes;

            var members = new List<long>();
            foreach (var mpid in chunk)
            {
                var parts = counters.ToDictionary(c => c.Value.Id, c => Calculation.For(c.Value));
                await foreach (var e in events.ForStreamAsync(StreamKey.For(mpid), ct))
                {
                    eventsRead++;
                    foreach (var counter in counters.Values)
                        foreach (var observation in counter.Observe(e).Where(o => o.At <= range.End))
                            parts[counter.Id].Observe(counter, observation, now);
                }
                if (!profileByMpid.TryGetValue(mpid, out var profile)) continue;
                var person = computedByMpid.GetValueOrDefault(mpid) ?? PersonCalculations.For(mpid);
                var replayedParts = replayedByMpid[mpid].ToList();
                // Standard audiences read the retention period: an aged-out person (archived stream) is evaluated on what is stored.
                var judged = standard && !profile.IsLive ? profile with { AgedOutAt = null } : profile;
                var facts = PersonFactsFor.Person(judged, person, replayedParts, visible, now, counter => [parts.GetValueOrDefault(counter.Id)]);
                if (AudienceEvaluation.Evaluate(active, facts).IsMember) members.Add(mpid);
            }
            done += chunk.Length;
            if (!await afterChunk(new Chunk(members, people.Count, done, eventsRead))) return false;
        }
        return true;
    }

    /// <summary>Everyone who sent data to one of the workspaces, in stream-key order (the order the events are read in).</summary>
    private static async Task<List<long>> PeopleAsync(NpgsqlDataSource db, string schema, IEnumerable<int> workspaces, CancellationToken ct)
    {
        var people = new List<long>();
        await using var command = db.CreateCommand(
            $"select (data->>'Mpid')::bigint from {schema}.{ProfileProjection.TableName} where data->'Workspaces' ?| $1 order by id collate \"C\"");
        command.Parameters.Add(new NpgsqlParameter { Value = workspaces.Select(w => w.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray() });
        command.CommandTimeout = 0;
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) people.Add(reader.GetInt64(0));
        return people;
    }

    /// <summary>The range's captured events of the criteria's types, read once in stream-key order and handed out person by person.</summary>
    private sealed class EventReader(IDocumentStore store, NpgsqlDataSource db, IReadOnlyList<int> workspaces, string[] eventTypes, DateRange range) : IAsyncDisposable
    {
        private NpgsqlCommand? _command;
        private NpgsqlDataReader? _reader;
        private bool _hasRow;
        private bool _started;

        private async Task StartAsync(CancellationToken ct)
        {
            _started = true;
            if (eventTypes.Length == 0) return;
            var captured = ((Marten.Events.EventGraph)((StoreOptions)store.Options).Events).EventMappingFor(typeof(EventCaptured)).EventTypeName;
            // Events a split or merge moved away count for the person who received them (issue 21).
            var hidden = await Streams.VisibleEvents.HiddenAsync(store, db, null, ct);
            _command = db.CreateCommand(
                $"""
                select stream_id, data from {store.Options.Events.DatabaseSchemaName}.mt_events
                where type = '{captured}' and data->>'WorkspaceId' = any($1) and data->>'EventType' = any($2)
                  and (data->>'Timestamp')::timestamptz between $3 and $4 and {Streams.HiddenEvents.Sql("$5", "$6")}
                order by stream_id collate "C", seq_id
                """);
            _command.Parameters.Add(new NpgsqlParameter { Value = workspaces.Select(w => w.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray() });
            _command.Parameters.Add(new NpgsqlParameter { Value = eventTypes });
            _command.Parameters.Add(new NpgsqlParameter { Value = range.From is null ? DateTimeOffset.UnixEpoch : range.Start });
            _command.Parameters.Add(new NpgsqlParameter { Value = range.To is null ? new DateTimeOffset(9999, 1, 1, 0, 0, 0, TimeSpan.Zero) : range.End });
            _command.Parameters.Add(new NpgsqlParameter { Value = hidden.Streams });
            _command.Parameters.Add(new NpgsqlParameter { Value = hidden.Versions });
            _command.CommandTimeout = 0;
            _reader = await _command.ExecuteReaderAsync(ct);
            _hasRow = await _reader.ReadAsync(ct);
        }

        /// <summary>This person's events; people must be asked for in the same key order.</summary>
        public async IAsyncEnumerable<EventCaptured> ForStreamAsync(string key, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
        {
            if (!_started) await StartAsync(ct);
            if (_reader is null) yield break;
            var serializer = store.Options.Serializer();
            while (_hasRow && string.CompareOrdinal(_reader.GetString(0), key) < 0) _hasRow = await _reader.ReadAsync(ct);
            while (_hasRow && _reader.GetString(0) == key)
            {
                yield return serializer.FromJson<EventCaptured>(_reader, 1);
                _hasRow = await _reader.ReadAsync(ct);
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (_reader is not null) await _reader.DisposeAsync();
            if (_command is not null) await _command.DisposeAsync();
        }
    }
}

/// <summary>The one-time send of a standard audience: an add for every member, to every connected output (§B1).</summary>
public static class StandardAudienceSend
{
    private const int ProfilesPerMessage = 100;

    /// <remarks>Each send is recorded under every member it names (<see cref="PersonWork"/>), in the session's transaction.</remarks>
    public static async Task<IReadOnlyList<object>> MessagesAsync(Audience audience, IReadOnlyList<long> members, IDocumentSession session,
        WorkspaceDirectory directory, DateTimeOffset now, CancellationToken ct)
    {
        var connections = await session.Query<AudienceConnection>().Where(c => c.AudienceId == audience.Id).ToListAsync(ct);
        var messages = new List<object>();
        if (connections.Count == 0) return messages;
        var accountId = directory.WorkspaceById(audience.WorkspaceIds[0])?.AccountId ?? 0;
        foreach (var chunk in members.Chunk(ProfilesPerMessage))
        {
            var profiles = (await session.LoadManyAsync<Profile>(ct, chunk.Select(StreamKey.For).ToArray())).ToDictionary(p => p.Mpid);
            var id = Guid.CreateVersion7();
            var message = AudienceMembershipsChangedHandler.Message(id, new MembershipChange(audience.Id, audience.Activation ?? Guid.Empty, chunk[0], true, now, "standard audience send"),
                audience, accountId, profiles.GetValueOrDefault(chunk[0]));
            var userProfiles = message["user_profiles"]!.AsArray();
            foreach (var mpid in chunk.Skip(1))
                userProfiles.Add(AudienceMembershipsChangedHandler.Message(id, new MembershipChange(audience.Id, Guid.Empty, mpid, true, now, ""), audience, accountId,
                    profiles.GetValueOrDefault(mpid))["user_profiles"]![0]!.DeepClone());
            var payload = message.ToJsonString();
            foreach (var connection in connections)
            {
                var delivery = new DeliverBatch(connection.OutputId, connection.Id, id, id, chunk[0], $"audience:{audience.Id}", "production", payload);
                messages.Add(delivery);
                session.RecordWork(chunk.SelectMany(m => audience.WorkspaceIds.Select(w => new PersonWorkRecord.Row(delivery.WorkId, m, w))));
            }
        }
        return messages;
    }
}
