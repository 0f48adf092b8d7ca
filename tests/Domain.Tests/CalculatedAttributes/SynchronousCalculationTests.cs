using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Ingestion;
using EventProfiles.Domain.Profiles;
using Input = EventProfiles.Domain.Workspaces.Input;
using InputKind = EventProfiles.Domain.Workspaces.InputKind;
using static EventProfiles.Domain.Tests.CalculatedAttributes.CA;

namespace EventProfiles.Domain.Tests.CalculatedAttributes;

/// <summary>
/// Issue 16 §7: the writer's synchronous part folds a group with the projection's own fold, so what a batch's enrichment
/// shows equals what the projection (and a rebuild) computes from the same events.
/// </summary>
public class SynchronousCalculationTests
{
    private const long Mpid = 4242;
    private static readonly Input Server = new("server", InputKind.Server, "key", "secret", "development", new EventProfiles.Domain.Workspaces.Workspace(CA.Workspace, "ws", 1, 1), false);
    private static readonly DateTimeOffset StoredAt = T0.AddDays(3);

    private static readonly Condition Big = When("number", "greater_than", "v", "15");

    /// <summary>Every synchronous type, a rolling window with a condition among them, with distinct ids.</summary>
    private static IReadOnlyList<ActiveDefinition> Definitions() =>
    [
        new(1, CA.Workspace, "plays", Guid.NewGuid(), OnPlay(CalculationTypes.Count, null).Normalized()),
        new(2, CA.Workspace, "total", Guid.NewGuid(), OnPlay(CalculationTypes.Sum).Normalized()),
        new(3, CA.Workspace, "lowest", Guid.NewGuid(), OnPlay(CalculationTypes.Min).Normalized()),
        new(4, CA.Workspace, "highest", Guid.NewGuid(), OnPlay(CalculationTypes.Max).Normalized()),
        new(5, CA.Workspace, "last", Guid.NewGuid(), OnPlay(CalculationTypes.LastValue).Normalized()),
        new(6, CA.Workspace, "last_at", Guid.NewGuid(), OnPlay(CalculationTypes.LastTimestamp, null).Normalized()),
        new(7, CA.Workspace, "values", Guid.NewGuid(), OnPlay(CalculationTypes.UniqueList).Normalized()),
        new(8, CA.Workspace, "big_this_week", Guid.NewGuid(), OnPlay(CalculationTypes.Count, null, Within(1, TimePeriodTypes.Weeks), Big).Normalized()),
    ];

    private static string Play(DateTimeOffset at, int v) =>
        $$"""{ "event_type": "custom_event", "data": { "event_name": "Play", "custom_event_type": "other", "timestamp_unixtime_ms": {{at.ToUnixTimeMilliseconds()}}, "custom_attributes": { "v": {{v}} } } }""";

    private static GroupedBatch Batch(bool isNew, params string[] events)
    {
        var parsed = Ingestion.Batches.Parse($$"""{ "environment": "development", "user_identities": { "customerid": "c-1" }, "events": [ {{string.Join(",", events)}} ] }""");
        return new(parsed, Server, InputKind.Server, Guid.NewGuid(), StoredAt, false,
            new IdentityResolutionResult(Mpid, isNew, parsed.Identities().Where(IdentitySettings.Default.IsMatchable).ToList()));
    }

    private static GroupOutcome Decide(IReadOnlyDictionary<long, Profile> stored, params GroupedBatch[] group) =>
        GroupDecision.Decide(group, stored, new Dictionary<long, IReadOnlySet<string>>(), IdentitySettings.Default);

    /// <summary>What the projection folds from the same events, one by one, as the daemon (and a rebuild) does.</summary>
    private static PersonCalculations? Projected(IEnumerable<object> events, IReadOnlyList<ActiveDefinition> definitions)
    {
        PersonCalculations? person = null;
        var version = 0L;
        foreach (var e in events)
        {
            var now = CalculationTime.Now(person, CalculationTime.Of(e, StoredAt));
            person = PersonCalculations.FoldValues(person, Mpid, e, 1_000 + ++version, now, definitions);
            person?.Advance(now);
        }
        return person;
    }

    private static Dictionary<string, string> Values(IReadOnlyList<ActiveDefinition> definitions, PersonCalculations? person, DateTimeOffset now) =>
        definitions.ToDictionary(d => d.Name, d => CalculatedAttributeValues.ValueAt(d, now, person?.Definitions.GetValueOrDefault(d.Id)) is { } v
            ? v.Text ?? string.Join("|", v.List!) : "-");

    [Theory]
    [InlineData(CalculationTypes.Count, true)]
    [InlineData(CalculationTypes.Sum, true)]
    [InlineData(CalculationTypes.Min, true)]
    [InlineData("minimum", true)]
    [InlineData(CalculationTypes.Max, true)]
    [InlineData(CalculationTypes.LastValue, true)]
    [InlineData(CalculationTypes.LastTimestamp, true)]
    [InlineData(CalculationTypes.UniqueList, true)]
    [InlineData(CalculationTypes.Average, false)]
    [InlineData(CalculationTypes.MostFrequent, false)]
    [InlineData(CalculationTypes.UniqueValuesCount, false)]
    [InlineData(CalculationTypes.FirstValue, false)]
    [InlineData(CalculationTypes.FirstTimestamp, false)]
    public void the_product_s_synchronous_types_are_synchronous_and_the_others_async(string type, bool synchronous)
    {
        CalculationModes.IsSynchronous(type).ShouldBe(synchronous);
        var attribute = new CalculatedAttribute { DraftDefinition = OnPlay(type) };
        CalculationModes.Of(attribute).ShouldBe(synchronous ? CalculationModes.Sync : CalculationModes.Async);
        attribute.OwnerAudienceId = 3; // an audience's hidden counter: evaluated with the audience, by the daemon
        CalculationModes.Of(attribute).ShouldBe(CalculationModes.Async);
    }

    [Fact]
    public void a_group_folds_to_what_the_projection_folds_from_the_same_events_windows_and_conditions_included()
    {
        var definitions = Definitions();
        var outcome = Decide(new Dictionary<long, Profile>(),
            Batch(true, Play(T0, 10), Play(T0.AddDays(-20), 50), Play(T0.AddHours(2), 30)),
            Batch(false, Play(T0.AddHours(1), 20), Play(T0.AddHours(3), 5)));

        var result = SynchronousGroup.Fold(outcome, new Dictionary<long, long>(), new Dictionary<long, SynchronousCalculations>(), StoredAt, definitions, _ => true);

        var state = result.States.ShouldHaveSingleItem();
        state.StreamVersion.ShouldBe(outcome.Streams.Single().Events.Count);
        var projected = Projected(outcome.Streams.Single().Events, definitions);
        var values = Values(definitions, state.Values, StoredAt);
        values.ShouldBe(Values(definitions, projected, StoredAt));
        values["plays"].ShouldBe("5");
        values["total"].ShouldBe("115");
        values["lowest"].ShouldBe("5");
        values["highest"].ShouldBe("50");
        values["last"].ShouldBe("5"); // the latest timestamp, not the last sent
        values["last_at"].ShouldBe(AttributeValues.FormatTimestamp(T0.AddHours(3)));
        values["values"].ShouldBe("10|20|30|5|50");
        values["big_this_week"].ShouldBe("2"); // 30 and 20; 50 is three weeks old when it is stored, 10 and 5 are not above 15
    }

    [Fact]
    public void each_batch_shows_the_values_right_after_its_own_events()
    {
        var definitions = Definitions();
        var first = Batch(true, Play(T0, 10));
        var second = Batch(false, Play(T0.AddHours(1), 20));
        var result = SynchronousGroup.Fold(Decide(new Dictionary<long, Profile>(), first, second),
            new Dictionary<long, long>(), new Dictionary<long, SynchronousCalculations>(), StoredAt, definitions, _ => true);

        Values(definitions, result.ByBatch[first.BatchId].Values, StoredAt)["plays"].ShouldBe("1");
        Values(definitions, result.ByBatch[first.BatchId].Values, StoredAt)["total"].ShouldBe("10");
        Values(definitions, result.ByBatch[second.BatchId].Values, StoredAt)["plays"].ShouldBe("2");
        Values(definitions, result.ByBatch[second.BatchId].Values, StoredAt)["total"].ShouldBe("30");
    }

    [Fact]
    public void a_state_carried_from_group_to_group_equals_one_fold_of_the_whole_stream()
    {
        var definitions = Definitions();
        var one = Decide(new Dictionary<long, Profile>(), Batch(true, Play(T0, 10), Play(T0.AddHours(1), 40)));
        var firstGroup = SynchronousGroup.Fold(one, new Dictionary<long, long>(), new Dictionary<long, SynchronousCalculations>(), StoredAt, definitions, _ => true);
        var stored = firstGroup.States.Single();
        var profile = one.Batches[^1].After;

        var two = Decide(new Dictionary<long, Profile> { [Mpid] = profile }, Batch(false, Play(T0.AddHours(2), 20)));
        var version = one.Streams.Single().Events.Count;
        var secondGroup = SynchronousGroup.Fold(two, new Dictionary<long, long> { [Mpid] = version },
            new Dictionary<long, SynchronousCalculations> { [Mpid] = stored }, StoredAt, definitions, _ => true);

        secondGroup.States.Single().StreamVersion.ShouldBe(version + two.Streams.Single().Events.Count);
        var whole = one.Streams.Single().Events.Concat(two.Streams.Single().Events);
        Values(definitions, secondGroup.States.Single().Values, StoredAt).ShouldBe(Values(definitions, Projected(whole, definitions), StoredAt));
        Values(definitions, secondGroup.States.Single().Values, StoredAt)["plays"].ShouldBe("3");
    }

    [Fact]
    public void events_a_definition_was_initialised_with_by_replay_and_other_workspaces_events_do_not_count()
    {
        var definition = new ActiveDefinition(1, CA.Workspace, "plays", Guid.NewGuid(), OnPlay(CalculationTypes.Count, null).Normalized(), LiveAfterSequence: 500);
        var state = SynchronousCalculations.Start(Mpid, [definition]);
        state.Fold(Custom("Play", T0), 1, 400, StoredAt, [definition]); // replayed part's
        state.Fold(Custom("Play", T0), 2, 600, StoredAt, [definition]);
        state.Fold(Custom("Play", T0, workspace: 2), 3, 700, StoredAt, [definition]);
        state.Fold(Custom("Play", T0.AddHours(1)), 4, long.MaxValue, StoredAt, [definition]); // being appended now

        CalculatedAttributeValues.ValueAt(definition, StoredAt, state.Values.Definitions[1])!.Text.ShouldBe("2");
        state.StreamVersion.ShouldBe(4);
    }

    [Fact]
    public void an_ageing_out_another_writer_recorded_ends_the_values_as_in_the_projection()
    {
        var definition = new ActiveDefinition(1, CA.Workspace, "plays", Guid.NewGuid(), OnPlay(CalculationTypes.Count, null).Normalized());
        var state = SynchronousCalculations.Start(Mpid, [definition]);
        state.Fold(Custom("Play", T0), 1, 10, StoredAt, [definition]);
        state.Fold(new ProfileAgedOut(StoredAt.AddDays(400), StoredAt), 2, 11, StoredAt.AddDays(400), [definition]);

        state.Values.Definitions.ShouldBeEmpty();
        state.Values.EndedAtSequence.ShouldBe(11);
        state.Values.AsOf.ShouldBe(StoredAt.AddDays(400));
    }

    [Fact]
    public void a_reader_takes_the_synchronous_part_only_for_its_activations_and_while_the_projection_has_seen_no_more()
    {
        var definition = new ActiveDefinition(1, CA.Workspace, "plays", Guid.NewGuid(), OnPlay(CalculationTypes.Count, null).Normalized());
        var state = SynchronousCalculations.Start(Mpid, [definition]);
        state.Through(12);

        state.Serves(definition, null).ShouldBeTrue();
        state.Serves(definition, new PersonCalculations { StreamVersion = 12 }).ShouldBeTrue();
        state.Serves(definition, new PersonCalculations { StreamVersion = 13 }).ShouldBeFalse(); // e.g. a seed appended after the batch
        state.Serves(definition with { Activation = Guid.NewGuid() }, null).ShouldBeFalse(); // re-activated since
        state.Covers([definition]).ShouldBeTrue();
        state.Covers([definition, definition with { Id = 2, Activation = Guid.NewGuid() }]).ShouldBeFalse();
    }
}
