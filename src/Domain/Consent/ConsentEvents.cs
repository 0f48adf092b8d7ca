namespace EventProfiles.Domain.Consent;

public static class Regulations
{
    public const string Gdpr = "gdpr";
    public const string Ccpa = "ccpa";
    public const string CcpaPurpose = "data_sale_opt_out";
}

/// <summary>A consent record (consent.md §2). For CCPA, <see cref="Consented"/> = true means the person opted OUT of data sale.</summary>
public sealed record ConsentRecord(bool Consented, DateTimeOffset At, string? Document, string? Location, string? HardwareId);

/// <summary>The latest consent state for one (regulation, purpose) in one workspace.</summary>
public sealed record ConsentStateChanged(int WorkspaceId, string Regulation, string Purpose, ConsentRecord Record, string Input);
