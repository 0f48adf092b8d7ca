using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Privacy;
using EventProfiles.Domain.Profiles;

namespace EventProfiles.Domain.Tests.Privacy;

public class ErasureNoticeTests
{
    private static readonly DateTimeOffset T0 = new(2026, 5, 1, 0, 0, 0, TimeSpan.Zero);

    private static readonly Profile Person = new object[]
    {
        new UserIdentityAdded(1, "customer_id", "c-1", T0, "server"),
        new UserIdentityAdded(1, "email", "old@example.org", T0, "server"),
        new UserIdentityAdded(1, "other_id_2", "loyalty-7", T0, "server"),
        new UserIdentityAdded(1, "device_application_stamp", "das-1", T0, "server"),
        new UserIdentityAdded(2, "android_uuid", "a-1", T0, "other-server"),
    }.Aggregate(Profile.Create(new ProfileCreated(7, T0)), (p, e) => p.Evolve(e));

    private static DataSubjectRequest Request(Dictionary<string, string> identities) => new()
    {
        Id = Guid.Parse("0f8e4b8a-2f0c-4c7e-9a55-3b2d6c1e9f01"), WorkspaceId = 1, Regulation = "gdpr", Type = DsrTypes.Erasure,
        SubmittedTime = T0, Identities = identities,
    };

    [Fact]
    public void the_notice_names_the_request_and_every_identity_the_person_had_the_requests_own_first()
    {
        var notice = ErasureNotice.Build(Request(new() { ["email"] = "asked@example.org" }), Person, 7);

        notice["type"]!.GetValue<string>().ShouldBe("dsr_processing_request");
        notice["subject_request_id"]!.GetValue<string>().ShouldBe("0f8e4b8a-2f0c-4c7e-9a55-3b2d6c1e9f01");
        notice["submitted_time"]!.GetValue<long>().ShouldBe(T0.ToUnixTimeSeconds());
        notice["controller_id"]!.GetValue<string>().ShouldBe("1");
        notice["mpid"]!.GetValue<string>().ShouldBe("7");
        var standard = notice["subject_identities"]!.AsObject();
        standard["email"]!["value"]!.GetValue<string>().ShouldBe("asked@example.org"); // the request wins over the profile
        standard["controller_customer_id"]!["value"]!.GetValue<string>().ShouldBe("c-1");
        standard["android_id"]!["value"]!.GetValue<string>().ShouldBe("a-1");
        standard.ShouldAllBe(kv => kv.Value!["encoding"]!.GetValue<string>() == "raw");
        var extension = notice["extensions"]!["opendsr.mparticle.com"]!;
        extension["subject_identities"]!["mpid"]!["value"]!.GetValue<string>().ShouldBe("7");
        extension["subject_identities"]!["other2"]!["value"]!.GetValue<string>().ShouldBe("loyalty-7");
        // Every value, also those OpenDSR has no name for and the profile's email the request did not name.
        extension["identities"]!.AsArray().Select(i => $"{i!["identity_type"]}={i["identity"]}").ShouldBe(
            ["email=asked@example.org", "customer_id=c-1", "email=old@example.org", "other_id_2=loyalty-7", "device_application_stamp=das-1", "android_uuid=a-1"],
            ignoreOrder: true);
    }

    [Fact]
    public void the_input_of_a_notice_tells_it_apart_from_a_forwarded_batch()
    {
        ErasureNotice.IsNotice(ErasureNotice.InputOf(Guid.NewGuid())).ShouldBeTrue();
        ErasureNotice.IsNotice("forwarding-server").ShouldBeFalse();
        ErasureNotice.IsNotice("audience:12").ShouldBeFalse();
    }
}
