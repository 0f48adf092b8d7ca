namespace EventProfiles.Host.Operations;

/// <summary>
/// Marten's own <c>projections rebuild</c> (JasperFx command line) is refused, and points to our rebuild job: it folds
/// every stream whole, so the events a split or merge moved away would count again for the person who gave them (issue 21),
/// and it empties the read models before refilling them. Our job (<c>rebuild</c>, <c>/api/admin/jobs</c>) folds only the
/// visible events, person by person, while serving.
/// </summary>
public static class MartenProjectionsRebuild
{
    public const string Message =
        "Marten's 'projections rebuild' is not available here: it would fold every person's stream whole, including the events " +
        "a split or merge moved to someone else, and it empties the read models first. Use the rebuild job instead, which folds " +
        "only each person's visible events and keeps serving: 'rebuild [--projection profiles|calculations|all] [--mpid N]' " +
        "(build/run rebuild …), or POST /api/admin/jobs {\"kind\":\"rebuild\"}. 'projections list' still works.";

    /// <summary>The refusal for a command line that asks Marten to rebuild projections; null for any other.</summary>
    public static string? Refusal(IReadOnlyList<string> args) =>
        args.Count > 0 && string.Equals(args[0], "projections", StringComparison.OrdinalIgnoreCase)
        && args.Skip(1).Any(a => a.Equals("rebuild", StringComparison.OrdinalIgnoreCase) || a.Equals("--rebuild", StringComparison.OrdinalIgnoreCase))
            ? Message
            : null;
}
