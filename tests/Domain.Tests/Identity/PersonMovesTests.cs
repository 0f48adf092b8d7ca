using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Ingestion;
using EventProfiles.Domain.Profiles;
using EventProfiles.Domain.Tests.Ingestion;
using EventProfiles.Domain.Workspaces;

namespace EventProfiles.Domain.Tests.Identity;

/// <summary>The pure split decision (issue 21 §1): which batches and events move, what they become on the new person, what the original keeps.</summary>
public class PersonMovesTests
{
    private const long Original = 4242;
    private const long NewMpid = 777;
    private static readonly IdentityKey BenEmail = new("email", "ben@example.org");
    private static readonly DateTimeOffset T0 = Batches.ReceivedAt;

    private static string Batch(string identities, string attributes, string eventName) =>
        $$"""
        { "user_identities": { {{identities}} }, "user_attributes": {{attributes}}, "device_info": { "ios_idfv": "tablet" },
          "events": [ { "event_type": "custom_event", "data": { "event_name": "{{eventName}}", "custom_event_type": "other" } } ] }
        """;

    private static readonly string AnaBatch = Batch("\"customer_id\": \"ana\", \"email\": \"ana@example.org\"", """{ "plan": "family" }""", "Browse");
    private static readonly string BenBatch = Batch("\"email\": \"ben@example.org\"", """{ "game_level": "3" }""", "Purchase");

    /// <summary>Ingests the batches one by one as the writer does (same decision, links what resolution would link), returning the stored stream.</summary>
    private static List<StoredEvent> Ingest(long mpid, params string[] batches)
    {
        var stream = new List<StoredEvent>();
        Profile? profile = null;
        var minute = 0;
        foreach (var json in batches)
        {
            var parsed = Batches.Parse(json);
            var at = T0.AddMinutes(minute++);
            var ctx = new IngestionContext(mpid, profile is null, 1, "server", InputKind.Server, "development", Guid.NewGuid(), at, false,
                parsed.Identities(), new HashSet<string>(), IdentitySettings.Default);
            foreach (var e in BatchDecision.Decide(profile, parsed, ctx))
            {
                stream.Add(new StoredEvent(stream.Count + 1, 0, at, e));
                profile = profile is null ? Profile.Create((ProfileCreated)e) : profile.Evolve(e);
            }
        }
        return stream;
    }

    private static PersonMoves.Receiving ToNew(IReadOnlySet<IdentityKey>? heldByOthers = null) =>
        new(NewMpid, null, IdentitySettings.Default, _ => InputKind.Server, heldByOthers ?? new HashSet<IdentityKey>());

    [Fact]
    public void every_batch_that_carried_the_identity_moves_with_the_events_it_produced_and_the_rest_stays()
    {
        var stream = Ingest(Original, AnaBatch, BenBatch, AnaBatch, BenBatch);
        var (selection, problem) = PersonMoves.SelectForSplit(stream, [BenEmail], []);

        problem.ShouldBeNull();
        selection!.Batches.Count().ShouldBe(2);
        selection.Batches.SelectMany(b => b.Events).Select(e => e.EventName).ShouldBe(["Purchase", "Purchase"]);
        // What moved is hidden on the original: every event of Ben's batches, none of Ana's.
        var hidden = selection.Hidden.ToHashSet();
        stream.Where(e => hidden.Contains(e.Version)).Select(e => e.Data).OfType<BatchReceived>().Count().ShouldBe(2);
        stream.Where(e => !hidden.Contains(e.Version)).Select(e => e.Data).OfType<EventCaptured>().Select(e => e.EventName).ShouldBe(["Browse", "Browse"]);
    }

    [Fact]
    public void the_original_folds_to_what_it_would_be_without_the_moved_batches()
    {
        var stream = Ingest(Original, AnaBatch, BenBatch);
        var (selection, _) = PersonMoves.SelectForSplit(stream, [BenEmail], []);
        var split = new PersonSplit("s1", Original, NewMpid, [BenEmail], [], [], selection!.EventsMoved, selection.Hidden, [], "shared tablet", "admin", T0.AddHours(1));

        var original = PersonMoves.Fold([.. stream, new StoredEvent(stream.Count + 1, 0, T0.AddHours(1), split)])!;
        var control = PersonMoves.Fold(Ingest(Original, AnaBatch))!;

        original.Identities.Select(i => $"{i.Type}={i.Value}").ShouldBe(control.Identities.Select(i => $"{i.Type}={i.Value}"));
        original.Workspace(1).CurrentAttributes().Select(a => a.Key).ShouldBe(["plan"]);
        original.Moves.Single().ShouldBe(ProfileMove.Of(split, Original));
        // Undone: the hidden versions count again.
        var undone = new PeopleMerged("m1", NewMpid, Original, "s1", [BenEmail], [], 0, [], selection.Hidden, "undo", "admin", T0.AddHours(2));
        var back = PersonMoves.Fold([.. stream, new StoredEvent(stream.Count + 1, 0, T0.AddHours(1), split), new StoredEvent(stream.Count + 2, 0, T0.AddHours(2), undone)])!;
        back.Workspace(1).CurrentAttributes().Select(a => a.Key).ShouldBe(["game_level", "plan"]);
        back.HasIdentity("email", "ben@example.org").ShouldBeTrue();
    }

    [Fact]
    public void the_new_person_is_decided_again_by_ingestion_and_equals_ingesting_those_batches_alone()
    {
        var stream = Ingest(Original, AnaBatch, BenBatch, BenBatch);
        var (selection, _) = PersonMoves.SelectForSplit(stream, [BenEmail], []);

        var (events, profile) = PersonMoves.Redecide(selection!, ToNew());
        var control = PersonMoves.Fold(Ingest(NewMpid, BenBatch, BenBatch))!;

        events.Select(e => e.Event.GetType().Name).ShouldBe(Ingest(NewMpid, BenBatch, BenBatch).Select(e => e.Data.GetType().Name));
        profile!.Identities.Select(i => $"{i.Type}={i.Value}").ShouldBe(control.Identities.Select(i => $"{i.Type}={i.Value}"));
        profile.Workspace(1).Devices.Keys.ShouldBe(control.Workspace(1).Devices.Keys); // the shared tablet is his device too
        profile.Workspace(1).CurrentAttributes().Select(a => a.Key).ShouldBe(["game_level"]);
        // Copies keep the stored time of the batch they came from.
        events.Select(e => e.StoredAt).Distinct().ShouldBe([T0.AddMinutes(1), T0.AddMinutes(2)]);
    }

    [Fact]
    public void a_unique_identity_someone_else_holds_is_not_linked_to_the_new_person()
    {
        var stream = Ingest(Original, AnaBatch, BenBatch);
        var (selection, _) = PersonMoves.SelectForSplit(stream, [BenEmail], []);
        var (_, profile) = PersonMoves.Redecide(selection!, ToNew(new HashSet<IdentityKey> { BenEmail }));
        profile!.HasIdentity("email", "ben@example.org").ShouldBeFalse();
    }

    [Fact]
    public void nothing_to_move_or_everything_to_move_is_not_a_split()
    {
        var stream = Ingest(Original, AnaBatch);
        PersonMoves.SelectForSplit(stream, [BenEmail], []).Problem.ShouldNotBeNull();
        PersonMoves.SelectForSplit(stream, [new IdentityKey("customer_id", "ana")], []).Problem!.ShouldContain("nothing would be left");
    }

    [Fact]
    public void a_split_by_the_input_that_sent_every_batch_is_refused()
    {
        var stream = Ingest(Original, AnaBatch, BenBatch);
        PersonMoves.SelectForSplit(stream, [], ["server"]).Problem.ShouldNotBeNull(); // every batch came from it
    }

    [Fact]
    public void a_merge_after_a_version_takes_only_what_came_later_but_hides_everything()
    {
        var stream = Ingest(NewMpid, BenBatch, BenBatch);
        var secondBatch = stream.FindLastIndex(e => e.Data is BatchReceived);
        var merge = PersonMoves.SelectForMerge(stream, after: stream[secondBatch].Version - 1);
        merge.Batches.Count().ShouldBe(1);
        merge.Hidden.Count.ShouldBe(stream.Count(e => e.Data is not ProfileCreated));
        MovedEvents.Visible(stream, e => e.Version, e => e.Data).Count.ShouldBe(stream.Count); // no move recorded yet: all visible
    }
}
