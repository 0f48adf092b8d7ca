namespace EventProfiles.Domain.CalculatedAttributes;

public enum CalculatedAttributeStatus
{
    /// <summary>Never activated: not computed.</summary>
    Draft,
    /// <summary>Computed: live, and initialised by replay (see <see cref="Initialisation"/> for calculating → ready).</summary>
    Active,
    /// <summary>Was active, now deactivated: not computed, not shown.</summary>
    Inactive,
}

/// <summary>
/// A calculated attribute of one workspace (§A1): the draft being edited, the active definition being computed, and the
/// state of its initialisation. Names are unique per workspace and frozen once activated.
/// </summary>
public sealed class CalculatedAttribute
{
    public int Id { get; set; }
    public int WorkspaceId { get; set; }
    public string Name { get; set; } = "";
    public string? Description { get; set; }
    /// <summary>Set on the hidden event counters an audience creates for its event criteria: not listed, not shown.</summary>
    public int? OwnerAudienceId { get; set; }
    public Definition? DraftDefinition { get; set; }
    public Definition? ActiveDefinition { get; set; }
    public CalculatedAttributeStatus Status { get; set; }
    /// <summary>Changes on every activation; state built for another activation is ignored.</summary>
    public Guid? Activation { get; set; }
    /// <summary>Event store position at activation: events up to here are initialised by replay, later ones live.</summary>
    public long LiveAfterSequence { get; set; }
    public string CreatedBy { get; set; } = "";
    public DateTimeOffset CreatedOn { get; set; }
    public string LastModifiedBy { get; set; } = "";
    public DateTimeOffset LastModifiedOn { get; set; }
    public string? ActivatedBy { get; set; }
    public DateTimeOffset? ActivatedOn { get; set; }

    public bool WasActivated => ActivatedOn is not null;
    public bool IsComputed => Status == CalculatedAttributeStatus.Active;

    public ActiveDefinition? Computed() =>
        IsComputed && ActiveDefinition is { } definition && Activation is { } activation
            ? new ActiveDefinition(Id, WorkspaceId, Name, activation, definition, LiveAfterSequence)
            : null;

    public void Activate(string by, DateTimeOffset at, long liveAfterSequence)
    {
        ActiveDefinition = DraftDefinition!.Normalized();
        Activation = Guid.NewGuid();
        LiveAfterSequence = liveAfterSequence;
        Status = CalculatedAttributeStatus.Active;
        ActivatedBy = by;
        ActivatedOn = at;
        Touch(by, at);
    }

    public void Deactivate(string by, DateTimeOffset at)
    {
        Status = CalculatedAttributeStatus.Inactive;
        Activation = null;
        Touch(by, at);
    }

    public void Touch(string by, DateTimeOffset at)
    {
        LastModifiedBy = by;
        LastModifiedOn = at;
    }
}

/// <summary>
/// Progress of the replay that initialises one activation of a definition over the retained events. Kept apart from
/// the definition so the job and API edits never overwrite each other; the cursor lets a restarted job skip finished people.
/// </summary>
public sealed class Initialisation
{
    /// <summary>The definition's id.</summary>
    public int Id { get; set; }
    public Guid Activation { get; set; }
    public long EventsTotal { get; set; }
    public long EventsDone { get; set; }
    public long People { get; set; }
    /// <summary>Streams are replayed in key order; everything up to this key is done.</summary>
    public string? DoneThroughStream { get; set; }
    public DateTimeOffset StartedAt { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }

    public bool IsFinished => FinishedAt is not null;

    /// <summary>A copy to save while the original counts on.</summary>
    public Initialisation Copy() => (Initialisation)MemberwiseClone();
}

/// <summary>Limits of the org's plan that calculated attributes check (§A3, §C12).</summary>
public sealed record CalculatedAttributeLimits(int RealTimeLookbackDays = 30, int MaxActive = 100);
