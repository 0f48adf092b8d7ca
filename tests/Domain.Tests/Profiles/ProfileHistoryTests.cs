using System.Text.Json;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Privacy;
using EventProfiles.Domain.Profiles;
using EventProfiles.Domain.Tests.CalculatedAttributes;

namespace EventProfiles.Domain.Tests.Profiles;

/// <summary>Issue 21 §2 and §3: the fold of a person's stream to an instant, and where attribute values came from.</summary>
public class ProfileHistoryTests
{
    private static readonly DateTimeOffset T0 = new(2026, 10, 1, 12, 0, 0, TimeSpan.Zero);
    private static JsonElement Json(string s) => JsonSerializer.Deserialize<JsonElement>(s);

    /// <summary>A stream written in order: each event gets the next version and the time it was stored.</summary>
    private sealed class Stream
    {
        public List<StoredEvent> Events { get; } = [];
        public Stream At(DateTimeOffset storedAt, params object[] events)
        {
            foreach (var e in events) Events.Add(new StoredEvent(Events.Count + 1, 1000 + Events.Count, storedAt, e));
            return this;
        }
    }

    private static BatchReceived Batch(Guid id, DateTimeOffset at, string input = "server", int workspace = 1) =>
        new(id, workspace, input, "development", at, null, false, Json("{}"));

    private static UserAttributeSet Set(string name, string json, DateTimeOffset at, string input = "server", int workspace = 1) =>
        new(workspace, name, Json(json), at, input);

    private static string? Plan(Profile? profile, int workspace = 1) =>
        profile?.Workspace(workspace).Attributes.GetValueOrDefault("plan")?.Value?.GetString();

    [Fact]
    public void the_fold_to_an_instant_shows_what_was_stored_by_then()
    {
        var stream = new Stream()
            .At(T0, new ProfileCreated(1, T0), Batch(Guid.NewGuid(), T0), Set("plan", "\"free\"", T0))
            .At(T0.AddHours(2), Batch(Guid.NewGuid(), T0.AddHours(2)), Set("plan", "\"pro\"", T0.AddHours(2)));

        ProfileAsOf.Fold(stream.Events, T0.AddMinutes(-1)).ShouldBeNull(); // the person did not exist yet
        Plan(ProfileAsOf.Fold(stream.Events, T0)).ShouldBe("free");
        Plan(ProfileAsOf.Fold(stream.Events, T0.AddHours(1))).ShouldBe("free");
        Plan(ProfileAsOf.Fold(stream.Events, T0.AddHours(2))).ShouldBe("pro");
    }

    [Fact]
    public void the_stored_time_decides_not_the_time_a_client_wrote_on_the_event()
    {
        // A historical batch stored later carries an older time: it was not known at the earlier instant.
        var stream = new Stream()
            .At(T0, new ProfileCreated(1, T0), Batch(Guid.NewGuid(), T0))
            .At(T0.AddDays(2), Batch(Guid.NewGuid(), T0.AddDays(2)), Set("plan", "\"legacy\"", T0.AddDays(-30)));

        Plan(ProfileAsOf.Fold(stream.Events, T0.AddDays(1))).ShouldBeNull();
        Plan(ProfileAsOf.Fold(stream.Events, T0.AddDays(3))).ShouldBe("legacy");
    }

    [Fact]
    public void an_erasure_of_a_workspace_reaches_back_before_its_date()
    {
        var stream = new Stream()
            .At(T0, new ProfileCreated(1, T0), Batch(Guid.NewGuid(), T0), Set("plan", "\"free\"", T0),
                Batch(Guid.NewGuid(), T0, "other", 2), Set("plan", "\"gold\"", T0, "other", 2))
            .At(T0.AddDays(1), new WorkspaceDataErased(1, T0.AddDays(1)));

        var before = ProfileAsOf.Fold(stream.Events, T0.AddHours(1))!;
        before.IsKnownIn(1).ShouldBeFalse();
        Plan(before).ShouldBeNull();
        Plan(before, 2).ShouldBe("gold"); // the other workspace's data stays
    }

    [Fact]
    public void an_ageing_out_reaches_back_so_expired_data_is_never_shown()
    {
        var stream = new Stream()
            .At(T0, new ProfileCreated(1, T0), Batch(Guid.NewGuid(), T0), Set("plan", "\"free\"", T0))
            .At(T0.AddDays(200), new ProfileAgedOut(T0.AddDays(200), T0))
            .At(T0.AddDays(300), new ProfileReactivated(T0.AddDays(300), T0.AddDays(200)), Batch(Guid.NewGuid(), T0.AddDays(300)), Set("plan", "\"pro\"", T0.AddDays(300)));

        ProfileAsOf.Fold(stream.Events, T0.AddDays(1))!.IsLive.ShouldBeFalse();
        ProfileAsOf.Fold(stream.Events, T0.AddDays(250))!.IsLive.ShouldBeFalse();
        var back = ProfileAsOf.Fold(stream.Events, T0.AddDays(301))!;
        back.IsLive.ShouldBeTrue();
        Plan(back).ShouldBe("pro");
    }

    [Fact]
    public void the_fold_to_now_equals_the_fold_of_the_whole_stream()
    {
        var stream = new Stream()
            .At(T0, new ProfileCreated(1, T0), Batch(Guid.NewGuid(), T0), Set("plan", "\"free\"", T0), Set("tier", "3", T0))
            .At(T0.AddHours(1), Batch(Guid.NewGuid(), T0.AddHours(1)), new UserAttributeRemoved(1, "tier", T0.AddHours(1), "server"));

        var whole = stream.Events.Skip(1).Aggregate(Profile.Create(new ProfileCreated(1, T0)), (p, e) => p.Evolve(e.Data));
        JsonSerializer.Serialize(ProfileAsOf.Fold(stream.Events, T0.AddDays(1))).ShouldBe(JsonSerializer.Serialize(whole));
    }

    [Fact]
    public void attribute_history_names_each_value_s_input_and_batch()
    {
        Guid first = Guid.NewGuid(), second = Guid.NewGuid();
        var stream = new Stream()
            .At(T0, new ProfileCreated(1, T0), Batch(first, T0, "server"), Set("plan", "\"free\"", T0, "server"), Set("city", "\"Oslo\"", T0, "server"))
            .At(T0.AddHours(1), Batch(second, T0.AddHours(1), "second"), Set("plan", "\"pro\"", T0.AddHours(1), "second"))
            // A seed sets an attribute with no batch; a late write older than the value held is stored but does not win.
            .At(T0.AddHours(2), Set("plan", "\"seeded\"", T0.AddHours(2), "seed-input"))
            .At(T0.AddHours(3), Batch(Guid.NewGuid(), T0.AddHours(3)), Set("plan", "\"late\"", T0.AddMinutes(30)));

        var history = AttributeHistory.Of(stream.Events, 1, "plan");
        history.Select(h => (h.Value!.Value.GetString(), h.Input, h.BatchId, h.Applied)).ShouldBe([
            ("free", "server", first, true),
            ("pro", "second", second, true),
            ("seeded", "seed-input", null, true),
            ("late", "server", history[3].BatchId, false),
        ]);
        history[3].BatchId.ShouldNotBeNull();
        history.Select(h => h.StoredAt).ShouldBe([T0, T0.AddHours(1), T0.AddHours(2), T0.AddHours(3)]);

        var provenance = AttributeHistory.Provenance(stream.Events, 1);
        provenance["plan"].Input.ShouldBe("seed-input");
        provenance["city"].BatchId.ShouldBe(first);
    }

    [Fact]
    public void a_removed_attribute_has_no_provenance_and_another_workspace_s_values_are_not_in_the_history()
    {
        var stream = new Stream()
            .At(T0, new ProfileCreated(1, T0), Batch(Guid.NewGuid(), T0), Set("plan", "\"free\"", T0),
                Batch(Guid.NewGuid(), T0, "other", 2), Set("plan", "\"gold\"", T0, "other", 2))
            .At(T0.AddHours(1), Batch(Guid.NewGuid(), T0.AddHours(1)), new UserAttributeRemoved(1, "plan", T0.AddHours(1), "server"));

        AttributeHistory.Of(stream.Events, 1, "plan").Select(h => h.Removed).ShouldBe([false, true]);
        AttributeHistory.Provenance(stream.Events, 1).ShouldNotContainKey("plan");
        AttributeHistory.Of(stream.Events, 2, "plan").Single().Input.ShouldBe("other");
    }

    [Fact]
    public void calculated_values_as_of_an_instant_count_only_the_events_stored_by_then()
    {
        var definition = new ActiveDefinition(CA.DefinitionId, CA.Workspace, CA.Name, Guid.NewGuid(), CA.OnPlay(CalculationTypes.Count, null).Normalized(), LiveAfterSequence: 5_000);
        var stream = new Stream()
            .At(T0, new ProfileCreated(1, T0), CA.Play(T0, "1"))
            .At(T0.AddHours(1), CA.Play(T0.AddHours(1), "2"))
            .At(T0.AddHours(2), CA.Play(T0.AddHours(2), "3"));

        string? CountAt(DateTimeOffset at) =>
            ProfileAsOf.Calculations(stream.Events, 1, at, [definition]) is { } person
                ? CalculatedAttributeValues.ValueAt(definition, at, person.Definitions.GetValueOrDefault(definition.Id))?.Text
                : null;

        // Every event counts although the definition's live part starts later: the whole stream is at hand.
        CountAt(T0.AddMinutes(30)).ShouldBe("1");
        CountAt(T0.AddHours(1)).ShouldBe("2");
        CountAt(T0.AddDays(1)).ShouldBe("3");
        CountAt(T0.AddMinutes(-1)).ShouldBeNull();
    }

    [Fact]
    public void calculated_history_records_each_value_with_its_batch_and_the_events_time_range()
    {
        var definition = new ActiveDefinition(CA.DefinitionId, CA.Workspace, CA.Name, Guid.NewGuid(), CA.OnPlay(CalculationTypes.Sum).Normalized());
        var firstPlay = CA.Play(T0.AddMinutes(-5), "2");
        var secondPlay = CA.Play(T0.AddHours(1), "3");
        var stream = new Stream()
            .At(T0, new ProfileCreated(1, T0), Batch(firstPlay.BatchId, T0, "server"), firstPlay)
            .At(T0.AddHours(1), Batch(secondPlay.BatchId, T0.AddHours(1), "second"), secondPlay, CA.Custom("Other", T0.AddHours(1)));

        var history = CalculatedHistory.Of(stream.Events, 1, definition);
        history.Select(h => (h.Value?.Text, h.BatchId, h.Input)).ShouldBe([
            ("2", firstPlay.BatchId, "server"),
            ("5", secondPlay.BatchId, "second"),
        ]);
        history[1].EventsFrom.ShouldBe(T0.AddMinutes(-5));
        history[1].EventsTo.ShouldBe(T0.AddHours(1));
        history[1].At.ShouldBe(T0.AddHours(1));
    }

    /// <summary>
    /// The shared tablet, then split a day later: Ana's batch (plan), Ben's batch (his email, game_level, a play) on one
    /// stream; the split hides Ben's versions on the original, and his copies sit on the new stream at their original times.
    /// </summary>
    private static (Stream Original, PersonSplit Split, Stream Ben, Guid BenBatch) SharedTabletSplit()
    {
        var benPlay = CA.Play(T0.AddHours(1), "4");
        var original = new Stream()
            .At(T0, new ProfileCreated(1, T0), Batch(Guid.NewGuid(), T0), Set("plan", "\"family\"", T0))
            .At(T0.AddHours(1), Batch(benPlay.BatchId, T0.AddHours(1)), new UserIdentityAdded(1, "email", "ben@example.org", T0.AddHours(1), "server"),
                Set("game_level", "\"3\"", T0.AddHours(1)), benPlay);
        var split = new PersonSplit("s1", 1, 2, [new IdentityKey("email", "ben@example.org")], [], [benPlay.BatchId], 4, [4, 5, 6, 7], [],
            "shared tablet", "admin", T0.AddDays(1));
        original.At(T0.AddDays(1), split);
        var ben = new Stream()
            .At(T0.AddHours(1), new ProfileCreated(2, T0.AddHours(1)), Batch(benPlay.BatchId, T0.AddHours(1)),
                new UserIdentityAdded(1, "email", "ben@example.org", T0.AddHours(1), "server"), Set("game_level", "\"3\"", T0.AddHours(1)), benPlay)
            .At(T0.AddDays(1), split with { Hidden = [] });
        return (original, split, ben, benPlay.BatchId);
    }

    private static string? Count(Stream stream, long mpid, DateTimeOffset at, ActiveDefinition definition) =>
        ProfileAsOf.Calculations(stream.Events, mpid, at, [definition]) is { } person
            ? CalculatedAttributeValues.ValueAt(definition, at, person.Definitions.GetValueOrDefault(definition.Id))?.Text
            : null;

    [Fact]
    public void reads_of_the_past_hide_what_a_later_split_moved_away_at_every_instant()
    {
        var (original, _, _, _) = SharedTabletSplit();
        var definition = new ActiveDefinition(CA.DefinitionId, CA.Workspace, CA.Name, Guid.NewGuid(), CA.OnPlay(CalculationTypes.Count, null).Normalized());

        // Before the split happened, the original already shows only what stayed: today's correction reaches back.
        var before = ProfileAsOf.Fold(original.Events, T0.AddHours(2))!;
        before.HasIdentity("email", "ben@example.org").ShouldBeFalse();
        before.Workspace(1).CurrentAttributes().Select(a => a.Key).ShouldBe(["plan"]);
        before.Moves.ShouldBeEmpty(); // the split itself is not part of the past
        Count(original, 1, T0.AddHours(2), definition).ShouldBeNull();
        AttributeHistory.Of(original.Events, 1, "game_level").ShouldBeEmpty();
        AttributeHistory.Provenance(original.Events, 1, T0.AddHours(2)).Keys.ShouldBe(["plan"]);
        CalculatedHistory.Of(original.Events, 1, definition).ShouldBeEmpty();
        // After the split: the same answer, and the fold of the past at the end equals the present fold.
        JsonSerializer.Serialize(ProfileAsOf.Fold(original.Events, T0.AddDays(2))).ShouldBe(JsonSerializer.Serialize(PersonMoves.Fold(original.Events)));
    }

    [Fact]
    public void the_new_persons_copies_count_from_their_original_stored_times()
    {
        var (_, _, ben, benBatch) = SharedTabletSplit();
        var definition = new ActiveDefinition(CA.DefinitionId, CA.Workspace, CA.Name, Guid.NewGuid(), CA.OnPlay(CalculationTypes.Count, null).Normalized());

        ProfileAsOf.Fold(ben.Events, T0.AddMinutes(30)).ShouldBeNull(); // Ben's first batch had not arrived
        var before = ProfileAsOf.Fold(ben.Events, T0.AddHours(2))!;
        before.HasIdentity("email", "ben@example.org").ShouldBeTrue();
        before.Workspace(1).CurrentAttributes().Select(a => a.Key).ShouldBe(["game_level"]);
        Count(ben, 2, T0.AddHours(2), definition).ShouldBe("1");
        AttributeHistory.Of(ben.Events, 1, "game_level").Single().BatchId.ShouldBe(benBatch);
    }

    [Fact]
    public void after_an_undo_the_past_shows_the_moved_values_again()
    {
        var (original, split, _, _) = SharedTabletSplit();
        original.At(T0.AddDays(2), new PeopleMerged("m1", 2, 1, "s1", split.Identities, [], 0, [], split.Hidden, "undo", "admin", T0.AddDays(2)));
        var definition = new ActiveDefinition(CA.DefinitionId, CA.Workspace, CA.Name, Guid.NewGuid(), CA.OnPlay(CalculationTypes.Count, null).Normalized());

        var before = ProfileAsOf.Fold(original.Events, T0.AddHours(2))!;
        before.HasIdentity("email", "ben@example.org").ShouldBeTrue();
        before.Workspace(1).CurrentAttributes().Select(a => a.Key).ShouldBe(["game_level", "plan"]);
        Count(original, 1, T0.AddHours(2), definition).ShouldBe("1");
        AttributeHistory.Of(original.Events, 1, "game_level").Select(h => h.Version).ShouldBe([6]);
    }
}
