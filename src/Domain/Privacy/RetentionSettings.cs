namespace EventProfiles.Domain.Privacy;

/// <summary>
/// The org's data clocks (retention-and-privacy.md §1): how long event data is kept, how long a profile stays live
/// without new data (the profile lifetime; up to the lookback, or up to the retention period with Lifetime Profiles).
/// </summary>
public sealed record RetentionSettings
{
    public const string DocumentId = "org";
    public string Id { get; init; } = DocumentId;
    public int DataRetentionDays { get; init; } = 730;
    public int ProfileLifetimeDays { get; init; } = 30;
    public bool LifetimeProfiles { get; init; }

    public TimeSpan DataRetention => TimeSpan.FromDays(DataRetentionDays);

    /// <summary>Why these settings cannot be used, field by field (the real-time lookback is the deployment's).</summary>
    public IReadOnlyList<(string Field, string Reason)> Problems(int lookbackDays)
    {
        var problems = new List<(string, string)>();
        if (DataRetentionDays is < 1 or > 3650) problems.Add(("data_retention_days", "must be between 1 and 3650."));
        else if (DataRetentionDays < lookbackDays) problems.Add(("data_retention_days", $"must be at least the real-time lookback of {lookbackDays} days."));
        if (ProfileLifetimeDays < 1) problems.Add(("profile_lifetime_days", "must be at least 1."));
        else if (ProfileLifetimeDays > DataRetentionDays) problems.Add(("profile_lifetime_days", "cannot exceed the data retention period."));
        else if (!LifetimeProfiles && ProfileLifetimeDays > lookbackDays)
            problems.Add(("profile_lifetime_days", $"cannot exceed the real-time lookback of {lookbackDays} days unless lifetime_profiles is on."));
        return problems;
    }
}
