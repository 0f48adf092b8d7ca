using System.Buffers;
using System.Net;
using System.Text;
using EventProfiles.Commands.Profiles;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Profiles;
using EventProfiles.Integration.Tests.Fixtures;
using Marten;
using Microsoft.Extensions.DependencyInjection;

namespace EventProfiles.Integration.Tests.Profiles;

/// <summary>
/// The Profile API writes its answer straight from the stored profile JSON (<see cref="ProfileAnswer"/>); access requests
/// build it from the deserialised profile (<see cref="ProfileDocument.Build"/>). Both must give the same bytes: same
/// sections, key order (attribute names in the profile's dictionary order, not jsonb's), value shapes and escaping.
/// </summary>
[Collection(AppCollection.Name)]
public class ProfileAnswerTests(AppFixture app)
{
    private const string NoComputedFields = "device_identities,user_identities,attribution,consent_state,devices";

    private async Task<(string Customer, long Mpid)> DetailedCustomer()
    {
        var customer = Api.NewId("answer");
        await app.Ingested($$"""
            { "user_identities": { "customer_id": "{{customer}}", "email": "{{customer}}@example.org" },
              "user_attributes": { "Zeta": "z", "alpha": "a", "a_b": 1, "ab": 2.50, "Élan": "<b>&'é\"", "vip": false,
                                   "genres": ["drama", "jazz"], "tag": null, "gone": "x" },
              "consent_state": { "gdpr": { "marketing": { "consented": true, "timestamp_unixtime_ms": 1764800000000, "document": "v1",
                                                          "location": "Berlin", "hardware_id": "hw-1" },
                                           "analytics": { "consented": false, "timestamp_unixtime_ms": 1764800000001 } },
                                 "ccpa": { "data_sale_opt_out": { "consented": true, "timestamp_unixtime_ms": 1764800000002 } } },
              "mp_deviceid": "{{customer}}-das", "device_info": { "platform": "iOS", "ios_idfv": "{{customer}}-idfv", "att_authorization_status": "authorized" },
              "events": [ { "event_type": "custom_event", "data": { "event_name": "attribution", "custom_event_type": "attribution",
                            "custom_attributes": { "publisher": "PartnerX", "campaign": "spring" } } } ] }
            """);
        await app.Ingested($$"""{ "user_identities": { "customer_id": "{{customer}}" }, "deleted_user_attributes": ["gone"], "events": [] }""");
        return (customer, (await app.ProfileOf(customer))["mpid"]!.GetValue<long>());
    }

    private async Task<Profile> Stored(long mpid)
    {
        await using var session = app.Services.GetRequiredService<IDocumentStore>().QuerySession();
        return (await session.LoadAsync<Profile>(StreamKey.For(mpid)))!;
    }

    [Fact]
    public async Task the_answer_written_from_the_stored_json_is_byte_for_byte_the_built_document()
    {
        var (_, mpid) = await DetailedCustomer();
        var profile = await Stored(mpid);
        var reader = app.Services.GetRequiredService<ProfileReader>();
        // A calculated attribute with the name of a user attribute takes its place; the others follow (§A7).
        var computed = new ComputedProfile(
            new SortedDictionary<string, CalculatedValue>(StringComparer.Ordinal)
            {
                ["alpha"] = new("calculated", null), ["zz_count"] = new("3", null), ["b_list"] = new(null, ["x", "<y>"]), ["c_none"] = new(null, null),
            },
            [new AudienceMembershipView(7, "Buyers & co"), new AudienceMembershipView(9, "Élite")]);

        foreach (var fields in new[] { Api.AllFields, "user_attributes", NoComputedFields, "user_identities" })
        {
            var wanted = fields.Split(',').ToHashSet();
            using var read = (await reader.ByMpidAsync(mpid, 1, withComputed: false, DateTimeOffset.UtcNow, CancellationToken.None))!;
            var written = new ArrayBufferWriter<byte>();
            ProfileAnswer.Write(written, read.Profile!.RootElement, 1, wanted, computed, reader.Serializer);

            Encoding.UTF8.GetString(written.WrittenSpan).ShouldBe(ProfileDocument.Build(profile, 1, wanted, computed).ToJsonString(), fields);
        }
    }

    [Fact]
    public async Task the_api_answers_by_mpid_and_by_resolve_with_the_bytes_of_the_built_document()
    {
        var (customer, mpid) = await DetailedCustomer();
        var expected = ProfileDocument.Build(await Stored(mpid), 1, NoComputedFields.Split(',').ToHashSet()).ToJsonString();

        using var byMpid = await app.GetProfile(mpid, fields: NoComputedFields);
        byMpid.StatusCode.ShouldBe(HttpStatusCode.OK);
        byMpid.Content.Headers.ContentType!.ToString().ShouldBe("application/json; charset=utf-8");
        (await byMpid.Content.ReadAsStringAsync()).ShouldBe(expected);
        using var resolved = await app.ResolveProfile(customer, fields: NoComputedFields);
        (await resolved.Content.ReadAsStringAsync()).ShouldBe(expected);
    }

    [Fact]
    public async Task removed_attributes_are_left_out_and_values_keep_their_shapes()
    {
        var (customer, _) = await DetailedCustomer();
        var attributes = (await app.ProfileOf(customer))["user_attributes"]!.AsObject();

        attributes.ContainsKey("gone").ShouldBeFalse();
        attributes["Zeta"]!.GetValue<string>().ShouldBe("z");
        attributes["Élan"]!.GetValue<string>().ShouldBe("<b>&'é\"");
        attributes["vip"]!.GetValue<string>().ShouldBe("false");
        attributes["genres"]!.AsArray().Select(x => x!.GetValue<string>()).ShouldBe(["drama", "jazz"]);
        attributes.ContainsKey("tag").ShouldBeTrue();
        attributes["tag"].ShouldBeNull();
    }
}
