using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Setup;
using EventProfiles.Domain.Workspaces;

namespace EventProfiles.Domain.Tests.Setup;

public class SetupSnapshotTests
{
    private static readonly DateTimeOffset T0 = DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000);

    private static SetupSnapshot Snapshot(params SetupInput[] inputs) => new(
        new SetupOrg(SetupOrg.TheId, 7, 3, SetupIdentity.From(IdentitySettings.Default), T0),
        [new SetupWorkspace(1, "Demo", 1, T0)], inputs,
        [new SetupApiClient("c", [1], [], [new StoredSecret("s2", "enc:new", T0.AddDays(1)), new StoredSecret("s1", "enc:old", T0)], T0)], []);

    private static string Reveal(string stored) => stored["enc:".Length..];

    [Fact]
    public void an_input_being_rotated_accepts_both_secrets_and_the_oldest_is_its_secret()
    {
        var input = new SetupInput("in", 1, InputKind.Server, "development", false, "k",
            [new StoredSecret("b", "enc:second", T0.AddMinutes(1)), new StoredSecret("a", "enc:first", T0)], false, T0);

        var (workspaces, inputs, clients) = Snapshot(input).DirectoryParts(Reveal);

        workspaces.Single().ShouldBe(new Workspace(1, "Demo", 1, 7));
        inputs.Single().Secret.ShouldBe("first");
        inputs.Single().AcceptedSecrets.ShouldBe(["first", "second"]);
        clients.Single().ClientSecret.ShouldBe("old");
        clients.Single().AcceptedSecrets.ShouldBe(["old", "new"]);
        clients.Single().Scopes.ShouldBe(ApiScopes.Default); // none stored: profiles:read only
    }

    [Fact]
    public void a_disabled_input_or_one_of_an_unknown_workspace_is_not_in_the_directory()
    {
        var disabled = new SetupInput("off", 1, InputKind.Server, "production", false, "k1", [new StoredSecret("a", "enc:x", T0)], true, T0);
        var orphan = new SetupInput("orphan", 9, InputKind.Server, "production", false, "k2", [new StoredSecret("a", "enc:y", T0)], false, T0);

        Snapshot(disabled, orphan).DirectoryParts(Reveal).Inputs.ShouldBeEmpty();
    }

    [Fact]
    public void stored_identity_rules_build_the_same_settings_they_were_made_from()
    {
        var settings = IdentitySettings.Create(IdentityStrategy.ProfileLink, IdentityTypes.Email.Name, [IdentityTypes.CustomerId.Name], [], IdentityTypes.DefaultPriority)
            with { IgnoreAllZeroValues = false };

        var built = SetupIdentity.From(settings).Build();

        built.Strategy.ShouldBe(IdentityStrategy.ProfileLink);
        built.ImmutableType.ShouldBe("email");
        built.LoginTypes.ShouldBe(settings.LoginTypes, ignoreOrder: true);
        built.UniqueTypes.ShouldBe(settings.UniqueTypes, ignoreOrder: true);
        built.Priority.ShouldBe(settings.Priority);
        built.IgnoredValues.ShouldBe(settings.IgnoredValues, ignoreOrder: true);
        built.IgnoreAllZeroValues.ShouldBeFalse();
    }

    [Fact]
    public void identity_rules_naming_no_identity_type_say_which_field()
    {
        var rules = SetupIdentity.From(IdentitySettings.Default) with { Immutable = "shoe_size", Login = ["customerid", "nope"] };

        rules.Problems().Select(p => p.Field).ShouldBe(["immutable", "login[1]"]);
    }
}
