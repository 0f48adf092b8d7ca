using EventProfiles.Domain.Identity;

namespace EventProfiles.Domain.Tests.Identity;

/// <summary>
/// Which hidden versions of a stream are another person's data (issue 21 §1): an erasure of the person a split or merge
/// gave events to deletes exactly these originals on the giver's stream.
/// </summary>
public class MovedEventsGivenToTests
{
    private static readonly DateTimeOffset T0 = new(2026, 10, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly IdentityKey BenEmail = new("email", "ben@example.org");

    private static PersonSplit Split(string id, long original, long receiver, long[] hidden) =>
        new(id, original, receiver, [BenEmail], [], [], hidden.Length, hidden, [], "shared tablet", "admin", T0);

    [Fact]
    public void a_split_gives_its_hidden_versions_to_the_new_person_and_the_new_person_names_the_original_as_giver()
    {
        object[] original = [Split("s1", 1, 2, [4, 5, 6]), Split("s2", 1, 3, [8])];
        var given = MovedEvents.GivenTo(original);
        given[2].ShouldBe([4L, 5L, 6L]);
        given[3].ShouldBe([8L]);
        MovedEvents.GiversTo(2, [Split("s1", 1, 2, [])]).ShouldBe([1L]);
        MovedEvents.GiversTo(1, original).ShouldBeEmpty(); // the original's own record names no giver of its own
    }

    [Fact]
    public void versions_an_undo_gave_back_are_the_original_s_again_and_a_merge_gives_to_its_destination()
    {
        object[] original = [Split("s1", 1, 2, [4, 5, 6]), new PeopleMerged("m1", 2, 1, "s1", [BenEmail], [], 0, [], [4, 5, 6], "undo", "admin", T0.AddHours(1))];
        MovedEvents.GivenTo(original).ShouldBeEmpty();

        object[] source = [new PeopleMerged("m2", 7, 9, null, [BenEmail], [], 3, [1, 2, 3], [], "same person", "admin", T0)];
        MovedEvents.GivenTo(source)[9].ShouldBe([1L, 2L, 3L]);
        MovedEvents.GiversTo(9, [new PeopleMerged("m2", 7, 9, null, [BenEmail], [], 3, [], [], "same person", "admin", T0)]).ShouldBe([7L]);
    }
}
