using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Ingestion;

namespace EventProfiles.Domain.Audiences;

/// <summary>What makes an audience valid, checked before it is stored or activated. Errors name the JSON path.</summary>
public static class AudienceRules
{
    public static IReadOnlyList<DefinitionProblem> Check(IReadOnlyList<Criterion>? criteria, IReadOnlyList<int> workspaces, int lookbackDays,
        Func<int, Audience?> audienceById, int? selfId)
    {
        var problems = new List<DefinitionProblem>();
        void Add(string field, string reason) => problems.Add(new DefinitionProblem(field, reason));
        if (criteria is not { Count: > 0 }) { Add("criteria", "needs at least one criterion."); return problems; }
        for (var i = 0; i < criteria.Count; i++)
        {
            var c = criteria[i];
            var at = $"criteria[{i}]";
            if (c is null) { Add(at, "must be an object."); continue; }
            if (i > 0 && c.Join is not (null or Joins.And or Joins.Or or Joins.Exclude)) Add($"{at}.join", "must be and, or or exclude.");
            if (c.WorkspaceId is { } ws && !workspaces.Contains(ws)) Add($"{at}.workspace_id", $"workspace {ws} is not one of the audience's workspaces.");
            switch (c.Kind)
            {
                case CriterionKinds.Event:
                    if (c.EventType is null || !EventTypes.All.Contains(c.EventType)) Add($"{at}.event_type", "is required: an Events API event_type.");
                    if (c.EventType is EventTypes.CustomEvent or EventTypes.ScreenView && string.IsNullOrWhiteSpace(c.EventName)) Add($"{at}.event_name", $"is required for {c.EventType}.");
                    // Conditions follow the calculated-attribute rules.
                    problems.AddRange(DefinitionRules.CheckConditions(Audience.CounterFor(c, lookbackDays).Conditions, at));
                    if (c.Frequency is { } f && (f.Operator is not null && !AudienceOperators.Frequency.Contains(f.Operator) || f.Count is < 0))
                        Add($"{at}.frequency", $"operator must be one of {string.Join(", ", AudienceOperators.Frequency)} and count ≥ 0.");
                    if (c.Recency is { } r)
                    {
                        if (r.WithinDays is null && (r.FromDaysAgo is null || r.ToDaysAgo is null)) Add($"{at}.recency", "give within_days, or from_days_ago and to_days_ago.");
                        else if (r.OuterDays <= 0 || r.InnerDays < 0 || r.InnerDays >= r.OuterDays) Add($"{at}.recency", "days must be positive, from_days_ago < to_days_ago.");
                        else if (r.OuterDays > lookbackDays) Add($"{at}.recency", $"cannot reach further back than the real-time lookback of {lookbackDays} days.");
                    }
                    break;
                case CriterionKinds.UserAttribute or CriterionKinds.CalculatedAttribute:
                    if (string.IsNullOrWhiteSpace(c.AttributeName)) Add($"{at}.attribute_name", "is required.");
                    CheckOperator(c, c.Type ?? "string", at, Add);
                    break;
                case CriterionKinds.UserAttributeList:
                    if (string.IsNullOrWhiteSpace(c.AttributeName)) Add($"{at}.attribute_name", "is required.");
                    CheckOperator(c, "list", at, Add);
                    break;
                case CriterionKinds.Identity:
                    if (c.IdentityType is null || IdentityTypes.FromName(c.IdentityType) is null) Add($"{at}.identity_type", "is not a known identity type.");
                    CheckOperator(c, "string", at, Add);
                    break;
                case CriterionKinds.Consent:
                    if (c.Regulation is not ("gdpr" or "ccpa")) Add($"{at}.regulation", "must be gdpr or ccpa.");
                    if (c.Regulation == "gdpr" && string.IsNullOrWhiteSpace(c.Purpose)) Add($"{at}.purpose", "is required for gdpr.");
                    break;
                case CriterionKinds.FirstSeen:
                    CheckOperator(c, "date", at, Add);
                    break;
                case CriterionKinds.Device:
                    if (string.IsNullOrWhiteSpace(c.Field)) Add($"{at}.field", "is required, e.g. platform, os_version, device_model.");
                    CheckOperator(c, "string", at, Add);
                    break;
                case CriterionKinds.AudienceMembership:
                    var other = c.AudienceId is { } id ? audienceById(id) : null;
                    if (other is null || other.Id == selfId) Add($"{at}.audience_id", "must name another audience.");
                    else if (other.Nested.Any()) Add($"{at}.audience_id", "only audiences without membership criteria can be nested (one level).");
                    else if (!other.WorkspaceIds.Intersect(workspaces).Any()) Add($"{at}.audience_id", "the audience shares no workspace with this one.");
                    break;
                default:
                    Add($"{at}.kind", $"must be one of {string.Join(", ", CriterionKinds.All)}.");
                    break;
            }
        }
        return problems;
    }

    private static void CheckOperator(Criterion c, string type, string at, Action<string, string> add)
    {
        if (!AudienceOperators.ByType.TryGetValue(type, out var operators)) { add($"{at}.type", $"must be one of {string.Join(", ", AudienceOperators.ByType.Keys)}."); return; }
        if (c.Operator is null || !operators.Contains(c.Operator)) { add($"{at}.operator", $"\"{c.Operator}\" does not apply to a {type}; expected one of {string.Join(", ", operators)}."); return; }
        if (c.Operator is AudienceOperators.Exists or AudienceOperators.NotExists) return;
        if (c.Operator == AudienceOperators.Between && (c.MinValue is null || c.MaxValue is null)) add($"{at}.min_value", "min_value and max_value are required for between.");
        else if (c.Operator == AudienceOperators.InList && c.Values is not { Count: > 0 }) add($"{at}.values", "needs at least one value.");
        else if (c.Operator is not (AudienceOperators.Between or AudienceOperators.InList) && c.Value is null) add($"{at}.value", $"is required for {c.Operator}.");
        if (type == "number" && new[] { c.Value, c.MinValue, c.MaxValue }.Concat(c.Values ?? []).Any(v => v is not null && AttributeValues.ParseNumber(v) is null))
            add($"{at}.value", "must be a number.");
        if (type == "date" && c.Operator != AudienceOperators.WithinLastDays && new[] { c.Value, c.MinValue, c.MaxValue }.Any(v => v is not null && AttributeValues.ParseDate(v) is null))
            add($"{at}.value", "must be a date (ISO 8601).");
        if (c.Operator == AudienceOperators.WithinLastDays && !int.TryParse(c.Value, out _)) add($"{at}.value", "must be a whole number of days.");
    }
}
