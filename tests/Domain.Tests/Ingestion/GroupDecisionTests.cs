using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Ingestion;
using EventProfiles.Domain.Profiles;
using EventProfiles.Domain.Workspaces;
using static EventProfiles.Domain.Tests.Ingestion.Batches;

namespace EventProfiles.Domain.Tests.Ingestion;

/// <summary>The writer's decision for a whole group commit: batches of one person apply in order, dedupe rows once.</summary>
public class GroupDecisionTests
{
    private static readonly Input Server = new("server", InputKind.Server, "key", "secret", "development", new Workspace(1, "ws", 1, 1), false);
    private static readonly IReadOnlyDictionary<long, IReadOnlySet<string>> NoMessageIds = new Dictionary<long, IReadOnlySet<string>>();

    private static GroupedBatch Grouped(string json, long mpid, bool isNew, int second = 0)
    {
        var parsed = Parse(json);
        var identities = parsed.Identities().Where(IdentitySettings.Default.IsMatchable).ToList();
        return new GroupedBatch(parsed, Server, InputKind.Server, Guid.NewGuid(), ReceivedAt.AddSeconds(second), false,
            new IdentityResolutionResult(mpid, isNew, identities));
    }

    private static string Batch(string requestId, string messageId, string plan) => $$"""
        { "environment": "development", "source_request_id": "{{requestId}}", "user_identities": { "customerid": "c-1" },
          "user_attributes": { "plan": "{{plan}}" },
          "events": [ { "event_type": "custom_event", "data": { "event_name": "Viewed", "custom_event_type": "other", "source_message_id": "{{messageId}}" } } ] }
        """;

    [Fact]
    public void two_batches_of_a_new_person_make_one_stream_and_the_second_builds_on_the_first()
    {
        var group = new[] { Grouped(Batch("r-1", "m-1", "free"), 7, isNew: true), Grouped(Batch("r-2", "m-2", "pro"), 7, isNew: false, second: 1) };

        var outcome = GroupDecision.Decide(group, new Dictionary<long, Profile>(), NoMessageIds, IdentitySettings.Default);

        var stream = outcome.Streams.ShouldHaveSingleItem();
        stream.Mpid.ShouldBe(7);
        stream.Events.OfType<ProfileCreated>().Count().ShouldBe(1);
        stream.Events.OfType<UserIdentityAdded>().Count().ShouldBe(1); // the second batch finds c-1 already linked
        outcome.Batches[1].Before.ShouldBe(outcome.Batches[0].After);
        outcome.Batches[1].After.Workspace(1).CurrentAttributes().Single(a => a.Key == "plan").Value!.Value.GetString().ShouldBe("pro");
        stream.Events.Count.ShouldBe(outcome.Batches.Sum(b => b.Events.Count));
        outcome.RequestRows.Select(r => (r.Id, r.Mpid)).ShouldBe([("r-1", 7L), ("r-2", 7L)]);
        outcome.MessageRows.ShouldBe([new MessageRow(7, "m-1"), new MessageRow(7, "m-2")]);
        outcome.Reactivated.ShouldBeEmpty();
    }

    [Fact]
    public void a_message_id_repeated_within_the_group_is_stored_once()
    {
        var group = new[] { Grouped(Batch("r-1", "m-1", "free"), 7, isNew: true), Grouped(Batch("r-2", "m-1", "free"), 7, isNew: false) };

        var outcome = GroupDecision.Decide(group, new Dictionary<long, Profile>(), NoMessageIds, IdentitySettings.Default);

        outcome.Streams.Single().Events.OfType<EventCaptured>().Count().ShouldBe(1);
        outcome.MessageRows.ShouldBe([new MessageRow(7, "m-1")]);
    }

    [Fact]
    public void a_message_id_the_stream_already_holds_is_not_stored_again()
    {
        var first = GroupDecision.Decide([Grouped(Batch("r-1", "m-1", "free"), 7, isNew: true)], new Dictionary<long, Profile>(), NoMessageIds, IdentitySettings.Default);
        var stored = new Dictionary<long, Profile> { [7] = first.Batches[0].After };

        var retry = GroupDecision.Decide([Grouped(Batch("r-9", "m-1", "free"), 7, isNew: false)], stored,
            new Dictionary<long, IReadOnlySet<string>> { [7] = new HashSet<string> { "m-1" } }, IdentitySettings.Default);

        retry.Streams.Single().Events.OfType<EventCaptured>().ShouldBeEmpty();
        retry.MessageRows.ShouldBeEmpty();
    }

    [Fact]
    public void batches_of_different_people_go_to_their_own_streams()
    {
        var group = new[] { Grouped(Batch("r-1", "m-1", "free"), 7, isNew: true), Grouped(Batch("r-2", "m-1", "free"), 8, isNew: true) };

        var outcome = GroupDecision.Decide(group, new Dictionary<long, Profile>(), NoMessageIds, IdentitySettings.Default);

        outcome.Streams.Select(s => s.Mpid).ShouldBe([7L, 8L]);
        outcome.MessageRows.ShouldBe([new MessageRow(7, "m-1"), new MessageRow(8, "m-1")]); // message ids are per stream
    }

    [Fact]
    public void a_returning_person_is_decided_on_the_fresh_profile_so_a_value_sent_again_is_recorded_again()
    {
        var first = GroupDecision.Decide([Grouped(Batch("r-1", "m-1", "free"), 7, isNew: true)], new Dictionary<long, Profile>(), NoMessageIds, IdentitySettings.Default);
        var agedOut = first.Batches[0].After.Evolve(new ProfileAgedOut(ReceivedAt.AddDays(31), ReceivedAt));

        var back = GroupDecision.Decide([Grouped(Batch("r-2", "m-2", "free"), 7, isNew: false, second: 60)], new Dictionary<long, Profile> { [7] = agedOut },
            NoMessageIds, IdentitySettings.Default);

        back.Reactivated.ShouldBe([7L]);
        var events = back.Streams.Single().Events;
        events[0].ShouldBeOfType<ProfileReactivated>();
        events.OfType<UserAttributeSet>().Select(a => a.Name).ShouldBe(["plan"]); // the same value as before the ageing out, set again
        back.Batches[0].Before!.Workspace(1).Attributes.ShouldBeEmpty(); // forwarding enriches from the fresh profile
        back.Batches[0].After.Workspace(1).CurrentAttributes().Single().Key.ShouldBe("plan");
    }
}
