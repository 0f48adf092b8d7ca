using EventProfiles.Domain.Ingestion;

namespace EventProfiles.Domain.Tests.Ingestion;

/// <summary>
/// Which batches a free writer takes (issue 15, goal 1): everything at low load, a second group only past the overlap
/// threshold, and a person in at most one group in flight, in acceptance order, also across retries.
/// </summary>
public class WriterHandOffTests
{
    private sealed class Item(string name, long person, object? rules = null)
    {
        public string Name { get; } = name;
        public long Person { get; set; } = person;
        public object? Rules { get; } = rules;
        public bool Retry { get; set; }
        public bool Answered { get; set; }
        public override string ToString() => Name;
    }

    private static WriterHandOff<Item> HandOff(int writers = 2, int overlapAt = 3, int maxGroup = 100) =>
        new(writers, overlapAt, maxGroup, i => i.Person, i => i.Rules, i => i.Retry, i => i.Answered);

    private static string Names(IEnumerable<Item>? group) => group is null ? "(none)" : string.Join(",", group.Select(i => i.Name));

    [Fact]
    public void a_free_writer_takes_everything_waiting_in_order()
    {
        var handOff = HandOff();
        handOff.Enqueue([new("a", 1), new("b", 2), new("c", 1)]);

        Names(handOff.TryTakeGroup()).ShouldBe("a,b,c");
        handOff.Waiting.ShouldBe(0);
    }

    [Fact]
    public void a_second_group_starts_beside_one_in_flight_only_once_enough_batches_wait()
    {
        var handOff = HandOff(overlapAt: 3);
        handOff.Enqueue([new("a", 1)]);
        handOff.TryTakeGroup().ShouldNotBeNull();

        handOff.Enqueue([new("b", 2), new("c", 3)]);
        handOff.TryTakeGroup().ShouldBeNull(); // two waiting: better to wait for the group in flight
        handOff.Enqueue([new("d", 4)]);
        Names(handOff.TryTakeGroup()).ShouldBe("b,c,d");
        handOff.GroupsInFlight.ShouldBe(2);
    }

    [Fact]
    public void enough_for_several_groups_is_shared_among_the_free_writers_in_order()
    {
        var handOff = HandOff(writers: 2, overlapAt: 2);
        handOff.Enqueue(Enumerable.Range(0, 5).Select(i => new Item($"b{i}", i)));

        Names(handOff.TryTakeGroup()).ShouldBe("b0,b1,b2");
        Names(handOff.TryTakeGroup()).ShouldBe("b3,b4");
    }

    [Fact]
    public void no_more_groups_than_writers_are_in_flight()
    {
        var handOff = HandOff(writers: 1, overlapAt: 1);
        handOff.Enqueue([new("a", 1)]);
        var first = handOff.TryTakeGroup()!;
        handOff.Enqueue([new("b", 2), new("c", 3)]);
        handOff.TryTakeGroup().ShouldBeNull();

        first[0].Answered = true;
        handOff.GroupEnded(first);
        Names(handOff.TryTakeGroup()).ShouldBe("b,c");
    }

    [Fact]
    public void a_person_in_a_group_in_flight_waits_with_all_its_later_batches()
    {
        var handOff = HandOff(overlapAt: 1);
        handOff.Enqueue([new("a1", 1)]);
        var first = handOff.TryTakeGroup()!;
        handOff.Enqueue([new("a2", 1), new("b1", 2), new("a3", 1)]);

        Names(handOff.TryTakeGroup()).ShouldBe("b1");
        first[0].Answered = true;
        handOff.GroupEnded(first);
        Names(handOff.TryTakeGroup()).ShouldBe("a2,a3");
    }

    [Fact]
    public void a_person_whose_batch_is_retried_waits_until_that_batch_is_answered_and_the_retry_goes_first()
    {
        var handOff = HandOff(overlapAt: 1);
        var a1 = new Item("a1", 1);
        handOff.Enqueue([a1]);
        var first = handOff.TryTakeGroup()!;
        handOff.GroupEnded(first); // failed: not answered, sent back for a retry
        a1.Retry = true;

        handOff.Enqueue([new("a2", 1), new("b1", 2)]);
        Names(handOff.TryTakeGroup()).ShouldBe("b1"); // a2 waits behind the retry

        handOff.Enqueue([a1]); // resolved again
        var retry = handOff.TryTakeGroup()!;
        Names(retry).ShouldBe("a1");
        a1.Answered = true;
        handOff.GroupEnded(retry);
        Names(handOff.TryTakeGroup()).ShouldBe("a2");
    }

    [Fact]
    public void a_retried_batch_resolved_to_another_person_still_holds_its_first_person_until_answered()
    {
        var handOff = HandOff(overlapAt: 1);
        var a1 = new Item("a1", 1);
        handOff.Enqueue([a1]);
        handOff.GroupEnded(handOff.TryTakeGroup()!);
        a1.Retry = true;
        a1.Person = 9; // another node won its identity: resolved again to that person

        handOff.Enqueue([a1, new("a2", 1)]);
        var retry = handOff.TryTakeGroup()!;
        Names(retry).ShouldBe("a1");
        a1.Answered = true;
        handOff.Answered(a1).ShouldBeFalse(); // still in its group: the group's end lets its persons go
        handOff.TryTakeGroup().ShouldBeNull();
        handOff.GroupEnded(retry);
        Names(handOff.TryTakeGroup()).ShouldBe("a2");
    }

    [Fact]
    public void a_batch_failed_for_good_while_waiting_for_its_retry_lets_its_person_go()
    {
        var handOff = HandOff(overlapAt: 1);
        var a1 = new Item("a1", 1);
        handOff.Enqueue([a1]);
        handOff.GroupEnded(handOff.TryTakeGroup()!);
        handOff.Enqueue([new("a2", 1)]);
        handOff.TryTakeGroup().ShouldBeNull();

        a1.Answered = true; // e.g. out of attempts, or stopping
        handOff.Answered(a1).ShouldBeTrue();
        Names(handOff.TryTakeGroup()).ShouldBe("a2");
    }

    [Fact]
    public void retried_batches_never_wait_for_each_other()
    {
        // x held person 1 and was resolved again to 2; y held 2 and was resolved again to 1: neither may wait for the other.
        var handOff = HandOff(writers: 1, overlapAt: 1);
        var x = new Item("x", 1);
        var y = new Item("y", 2);
        handOff.Enqueue([x, y]);
        handOff.GroupEnded(handOff.TryTakeGroup()!);
        (x.Retry, y.Retry, x.Person, y.Person) = (true, true, 2, 1);

        handOff.Enqueue([x, y]);
        Names(handOff.TryTakeGroup()).ShouldBe("x,y");
    }

    [Fact]
    public void batches_of_other_identity_rules_wait_for_a_group_of_their_own()
    {
        var (before, after) = (new object(), new object());
        var handOff = HandOff(writers: 1);
        handOff.Enqueue([new("a", 1, before), new("b", 2, after), new("c", 3, before), new("d", 2, before)]);

        var first = handOff.TryTakeGroup()!;
        Names(first).ShouldBe("a,c"); // d is behind b, of the same person
        foreach (var item in first) item.Answered = true;
        handOff.GroupEnded(first);
        Names(handOff.TryTakeGroup()).ShouldBe("b");
    }

    [Fact]
    public void a_group_holds_at_most_the_largest_group_size()
    {
        var handOff = HandOff(maxGroup: 2);
        handOff.Enqueue([new("a", 1), new("b", 2), new("c", 3)]);
        Names(handOff.TryTakeGroup()).ShouldBe("a,b");
        handOff.Waiting.ShouldBe(1);
    }
}
