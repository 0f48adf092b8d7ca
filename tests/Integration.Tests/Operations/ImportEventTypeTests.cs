using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using EventProfiles.Domain.Operations;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.Operations;

/// <summary>An import builds only our own event types, whatever .NET type name the uploaded file gives.</summary>
[Collection(AppCollection.Name)]
public class ImportEventTypeTests(AppFixture app)
{
    [Fact]
    public async Task a_line_naming_a_type_that_is_not_one_of_our_events_fails_the_import_and_nothing_is_imported()
    {
        var mpid = Random.Shared.NextInt64(1L << 40, long.MaxValue).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var at = DateTimeOffset.UtcNow.ToString("O");
        var file = string.Join('\n',
            """{"format":"eventprofiles-events","version":1,"workspace_id":2}""",
            $$$"""{"mpid":"{{{mpid}}}","type":"profile_created","dotnet_type":"EventProfiles.Domain.Profiles.ProfileCreated, EventProfiles.Domain","timestamp":"{{{at}}}","data":{"Mpid":{{{mpid}}},"At":"{{{at}}}"}}""",
            // Any .NET type by name: before, the import built whatever the file named and appended it to the stream.
            $$$"""{"mpid":"{{{mpid}}}","type":"json_object","dotnet_type":"System.Text.Json.Nodes.JsonObject, System.Text.Json","timestamp":"{{{at}}}","data":{}}""") + "\n";

        var job = await app.Finished((await app.StartJob(OperationKinds.Import, new { file = await Upload(file) }, workspace: 2))["id"]!.GetValue<string>());

        job["status"]!.GetValue<string>().ShouldBe("failed", job.ToJsonString());
        job["error"]!.GetValue<string>().ShouldContain("Line 3: \"json_object\" is not an EventProfiles event type");
        (await app.EventCount(long.Parse(mpid, System.Globalization.CultureInfo.InvariantCulture), "profile_created")).ShouldBe(0); // not even the good line before it
    }

    [Fact]
    public void every_event_the_profile_folds_can_be_imported()
    {
        // An export holds every event of a stream; an event type the import does not know would fail the whole file.
        var folded = typeof(EventProfiles.Projections.Profiles.ProfileProjection).GetMethods()
            .Where(m => m.IsStatic && m.Name is "Apply" or "Create").Select(m => m.GetParameters()[0].ParameterType)
            .Where(t => t.Namespace?.StartsWith("EventProfiles.Domain", StringComparison.Ordinal) == true).Distinct().ToList();
        folded.ShouldNotBeEmpty();
        folded.Except(EventProfiles.Commands.Operations.PersonEventTypes.All).ShouldBeEmpty();
    }

    private async Task<string> Upload(string content)
    {
        using var uploaded = await app.AdminClient().PostAsync("/api/admin/jobs/files", new StringContent(content, Encoding.UTF8, "application/x-ndjson"));
        uploaded.StatusCode.ShouldBe(HttpStatusCode.Created);
        return (await uploaded.Content.ReadFromJsonAsync<JsonObject>())!["file"]!.GetValue<string>();
    }
}
