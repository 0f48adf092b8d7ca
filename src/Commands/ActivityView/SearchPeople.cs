using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using EventProfiles.Commands.Api;
using EventProfiles.Commands.Security;
using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Privacy;
using EventProfiles.Domain.Profiles;
using EventProfiles.Domain.Workspaces;
using EventProfiles.Projections.Identity;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Npgsql;
using Wolverine.Http;

namespace EventProfiles.Commands.ActivityView;

public static class PersonStatuses
{
    public const string Live = "live";
    public const string AgedOut = "aged_out";
    public const string Erased = "erased";

    public static string Of(Profile profile) => profile.IsLive ? Live : AgedOut;
}

/// <summary>One person a search found (or, for an erased person, the request that erased them).</summary>
public sealed record SearchHit(
    string? Mpid, string Status, string MatchedBy, string MatchedValue, string? CustomerId, string? Email,
    DateTimeOffset? FirstSeen, DateTimeOffset? LastSeen, IReadOnlyList<WorkspaceRef> Workspaces, DateTimeOffset? ErasedAt = null, Guid? ErasureRequest = null);

public sealed record SearchResult(string Query, string Type, IReadOnlyList<SearchHit> Results, bool Truncated);

/// <summary>
/// <c>GET /ui/api/search?q=&amp;type=any|mpid|&lt;identity type&gt;</c> (forwarding.md §7): exact match on the MPID or
/// any identity, plus — a convenience the spec does not have — a prefix match on emails and customer ids. Only people
/// with data in the user's workspaces are found; erased people appear as such (matched through the hashed identities
/// their erasure request keeps), never with data.
/// </summary>
public static class SearchPeopleEndpoint
{
    public const int MaxResults = 50;
    public const int MinimumPrefixLength = 3;
    private static readonly string[] PrefixTypes = [IdentityTypes.Email.Name, IdentityTypes.CustomerId.Name];
    private static readonly string[] AllTypes = IdentityTypes.All.Select(t => t.Name).ToArray();

    [WolverineGet("/ui/api/search", Name = "Web UI: search people")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminSession)]
    public static async Task<IResult> Get(string? q, string? type, ClaimsPrincipal user, WorkspaceDirectory directory, LaggingReads reads,
        CancellationToken ct)
    {
        await using var session = await reads.QuerySessionAsync(ct); // may lag: a standby when there is one
        var db = reads.DataSource;
        var query = q?.Trim() ?? "";
        type = string.IsNullOrWhiteSpace(type) ? "any" : type.Trim();
        if (query.Length == 0) return ActivityViewJson.Invalid("q", "is required: an MPID or an identity value (email, customer id, device id…).");
        if (query.Length > 512) return ActivityViewJson.Invalid("q", "is longer than 512 characters.");
        if (type is not ("any" or "mpid") && IdentityTypes.FromName(type) is null)
            return ActivityViewJson.Invalid("type", $"unknown identity type \"{type}\"; expected any, mpid or one of {string.Join(", ", IdentityTypes.All.Select(t => t.Name))}.");
        if (type == "mpid" && !StreamKey.TryParse(query, out _)) return ActivityViewJson.Invalid("q", "is not an MPID (a 64-bit integer).");

        var access = ActivityViewAccess.For(user, directory);
        var schema = session.DocumentStore.Options.DatabaseSchemaName;
        var matches = await MatchesAsync(db, schema, query, type, ct);
        var profiles = matches.Count == 0 ? [] : (await session.LoadManyAsync<Profile>(ct, matches.Select(m => StreamKey.For(m.Mpid)).Distinct().ToArray()))
            .Where(access.Sees).ToDictionary(p => p.Mpid);
        var hits = matches
            .Where(m => profiles.ContainsKey(m.Mpid))
            .DistinctBy(m => m.Mpid)
            .Take(MaxResults)
            .Select(m => Hit(profiles[m.Mpid], m.Type, m.Value, access))
            .ToList();
        if (type != "mpid") hits.AddRange(await ErasedAsync(session, query, type, access, ct));
        return ActivityViewJson.Ok(new SearchResult(query, type, hits, matches.DistinctBy(m => m.Mpid).Count() > MaxResults));
    }

    private sealed record Match(long Mpid, string Type, string Value, bool Exact);

    /// <summary>Exact matches first, then prefix matches, each at most MaxResults + 1 (to tell the list was cut).</summary>
    private static async Task<List<Match>> MatchesAsync(NpgsqlDataSource db, string schema, string query, string type, CancellationToken ct)
    {
        var matches = new List<Match>();
        if (type is "any" or "mpid" && StreamKey.TryParse(query, out var mpid)) matches.Add(new Match(mpid, "mpid", query, true));
        if (type == "mpid") return matches;

        var index = $"{schema}.{IdentityIndexProjection.TableName}";
        var prefixTypes = type == "any" ? PrefixTypes : PrefixTypes.Where(t => t == type).ToArray();
        await using var batch = db.CreateBatch();
        // Every type listed (not left out) for "any": the index leads with the type, and PostgreSQL probes it once per type.
        batch.BatchCommands.Add(new NpgsqlBatchCommand(
            $"select mpid, identity_type, identity_value from {index} where identity_type = any($2) and identity_value = $1 order by mpid limit {MaxResults + 1}")
        {
            Parameters = { new() { Value = query }, new() { Value = type == "any" ? AllTypes : new[] { type } } },
        });
        var prefix = prefixTypes.Length > 0 && query.Length >= MinimumPrefixLength;
        if (prefix)
            // Collation "C" on both sides: the prefix index (IdentityIndexProjection) answers it whatever the database's collation.
            batch.BatchCommands.Add(new NpgsqlBatchCommand(
                $"select mpid, identity_type, identity_value from {index} where identity_type = any($1) and identity_value collate \"C\" like $2 " +
                $"order by identity_value collate \"C\", mpid limit {MaxResults + 1}")
            {
                Parameters = { new() { Value = prefixTypes }, new() { Value = EscapeLike(query) + "%" } },
            });
        await using var reader = await batch.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) matches.Add(new Match(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), true));
        if (prefix && await reader.NextResultAsync(ct))
            while (await reader.ReadAsync(ct)) matches.Add(new Match(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), false));
        return matches;
    }

    private static string EscapeLike(string text) => text.Replace(@"\", @"\\").Replace("%", @"\%").Replace("_", @"\_");

    private static SearchHit Hit(Profile profile, string matchedBy, string matchedValue, ActivityViewAccess access)
    {
        var visible = profile.Workspaces.Where(w => access.Sees(w.Key)).ToList();
        string? Identity(string type) => profile.Identities.FirstOrDefault(i => i.Type == type && access.Sees(i.WorkspaceId))?.Value;
        return new SearchHit(StreamKey.For(profile.Mpid), PersonStatuses.Of(profile), matchedBy, matchedValue,
            Identity(IdentityTypes.CustomerId.Name), Identity(IdentityTypes.Email.Name),
            visible.Select(w => w.Value.FirstSeenAt).Min(), visible.Select(w => w.Value.LastSeenAt).Max(),
            visible.Select(w => new WorkspaceRef(w.Key, access.NameOf(w.Key))).ToList());
    }

    /// <summary>Completed erasures in the user's workspaces that named this value (they keep only its SHA-256).</summary>
    private static async Task<IEnumerable<SearchHit>> ErasedAsync(IQuerySession session, string query, string type, ActivityViewAccess access, CancellationToken ct)
    {
        var hash = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(query)));
        var erasures = await session.QueryAsync<DataSubjectRequest>(
            "where data->>'Type' = ? and data->>'Status' = ? and (data->>'WorkspaceId')::int = any(?) " +
            "and exists (select 1 from jsonb_each_text(data->'Identities') i where i.value = ? and (? = 'any' or i.key = ?)) " +
            "order by data->>'CompletedAt' desc limit 10",
            ct, DsrTypes.Erasure, DsrStatuses.Completed, access.Ids, hash, type, type);
        return erasures.Select(r => new SearchHit(null, PersonStatuses.Erased, r.Identities.First(i => i.Value == hash).Key, query, null, null, null, null,
            [new WorkspaceRef(r.WorkspaceId, access.NameOf(r.WorkspaceId))], r.CompletedAt, r.Id));
    }
}
