using System.Net;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.Operability;

[Collection(AppCollection.Name)]
public class LoggingTests(AppFixture app)
{
    [Fact]
    public async Task logs_at_information_carry_no_secrets_and_no_personal_data()
    {
        var email = $"{Api.NewId("private")}@example.org";
        var customer = Api.NewId("secret-customer");
        await app.Ingested($$"""{ "user_identities": { "customer_id": "{{customer}}", "email": "{{email}}" }, "user_attributes": { "$lastname": "Confidential" } }""");
        using (var wrong = await app.PostBatch("{}", secret: "wrong-secret-value")) wrong.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        var token = await app.Token();
        await app.ProfileOf(customer, token: token);

        app.Logs.Lines.ShouldNotBeEmpty("the Host logs at Information, so this test would see a leak");
        var secrets = new[]
        {
            Api.DemoSecret, "wrong-secret-value", "demo-client-secret", token, email, customer, "Confidential",
            AppFixture.Basic(Api.DemoKey, Api.DemoSecret).Parameter!,
        };
        foreach (var line in app.Logs.Lines)
            foreach (var secret in secrets)
                line.ShouldNotContain(secret, Case.Sensitive, $"a log line reveals '{secret}'");
    }
}
