using EventProfiles.Domain.Forwarding;

namespace EventProfiles.Domain.Tests.Forwarding;

public class RabbitMqRoutingKeysTests
{
    private const string Batch = """{ "events": [ { "event_type": "custom_event" }, { "event_type": "custom_event" } ] }""";
    private const string MixedBatch = """{ "events": [ { "event_type": "custom_event" }, { "event_type": "screen_view" } ] }""";

    [Fact]
    public void a_batch_key_names_its_workspace_input_and_the_one_type_of_its_events() =>
        RabbitMqRoutingKeys.Key("{workspace}.{input}.{event_type}", 1, "web", Batch).ShouldBe("1.web.custom_event");

    [Fact]
    public void events_of_several_types_are_mixed_and_an_empty_template_is_the_default() =>
        RabbitMqRoutingKeys.Key(null, 2, "web", MixedBatch).ShouldBe("2.web.mixed");

    [Fact]
    public void audience_changes_and_erasure_notices_have_keys_of_their_own_and_org_wide_ones_say_all()
    {
        RabbitMqRoutingKeys.Key(null, null, "audience:42", "{}").ShouldBe("all.audience.audience_membership_change");
        RabbitMqRoutingKeys.Key("ep.{input}", 1, "erasure:" + Guid.NewGuid(), "{}").ShouldBe("ep.erasure");
    }

    [Fact]
    public void a_key_is_cut_to_amqps_255_bytes() =>
        RabbitMqRoutingKeys.Key("{input}", 1, new string('x', 300), Batch).Length.ShouldBe(255);

    [Theory]
    [InlineData("{workspace}.{input}", null)]
    [InlineData("fixed", null)]
    [InlineData("{workspace}.{user}", "may only use the placeholders {workspace}, {input}, {event_type}.")]
    [InlineData("{input", "may only use the placeholders {workspace}, {input}, {event_type}.")]
    public void templates_use_the_known_placeholders_only(string template, string? problem) =>
        RabbitMqRoutingKeys.TemplateProblem(template).ShouldBe(problem);

    [Theory]
    [InlineData("amqp://user:secret@broker.example.org:5672/vhost", "amqp://user:***@broker.example.org:5672/vhost")]
    [InlineData("amqps://broker.example.org/", "amqps://broker.example.org/")]
    public void a_uri_is_shown_without_its_password(string uri, string shown) =>
        RabbitMqRoutingKeys.Mask(uri).ShouldBe(shown);
}
