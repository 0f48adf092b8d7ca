using System.Security.Claims;
using System.Text.Json.Serialization;
using EventProfiles.Commands.Api;
using EventProfiles.Commands.Security;
using EventProfiles.Domain.Forwarding;
using EventProfiles.Domain.Security;
using EventProfiles.Domain.Workspaces;
using FluentValidation;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;
using RabbitMqBody = EventProfiles.Commands.Forwarding.RabbitMq.RabbitMqBody;

namespace EventProfiles.Commands.Forwarding;

public sealed record WebhookBody(
    [property: JsonPropertyName("url")] string? Url,
    [property: JsonPropertyName("secret")] string? Secret)
{
    /// <summary>
    /// The signing secret to keep: none sent (null or left out) keeps the stored one, which the API never shows and a
    /// client therefore cannot send back (as for a warehouse or broker password); an empty one removes it, so batches
    /// go unsigned from then on (docs/outputs.md).
    /// </summary>
    public static string? SecretToStore(string? sent, string? stored) => sent switch
    {
        null => stored,
        "" => null,
        _ => sent,
    };
}

/// <summary>A warehouse output's target (docs/outputs.md): a PostgreSQL connection string and the schema to keep our tables in.</summary>
public sealed record WarehouseBody(
    [property: JsonPropertyName("connection_string")] string? ConnectionString,
    [property: JsonPropertyName("schema")] string? Schema);

/// <summary>A files output's target (docs/outputs.md): an absolute folder under the server's files root, and when to start a new file.</summary>
public sealed record FilesBody(
    [property: JsonPropertyName("folder")] string? Folder,
    [property: JsonPropertyName("max_file_bytes")] long? MaxFileBytes = null,
    [property: JsonPropertyName("rewrite_on_erasure")] bool? RewriteOnErasure = null);

/// <summary>An output as the admin API takes it.</summary>
public sealed record OutputBody(
    [property: JsonPropertyName("name")] string? Name,
    [property: JsonPropertyName("kind")] string? Kind,
    [property: JsonPropertyName("webhook")] WebhookBody? Webhook,
    [property: JsonPropertyName("workspace_id")] int? WorkspaceId = null,
    [property: JsonPropertyName("warehouse")] WarehouseBody? Warehouse = null,
    [property: JsonPropertyName("rabbitmq")] RabbitMqBody? RabbitMq = null,
    [property: JsonPropertyName("files")] FilesBody? Files = null)
{
    public const string WebhookKind = "webhook";
    public const string WarehouseKind = "warehouse";
    public const string RabbitMqKind = "rabbitmq";
    public const string DefaultWarehouseSchema = "eventprofiles";

    public const string FilesKind = "files";
    public const long DefaultMaxFileBytes = 128L * 1024 * 1024;

    public bool IsWarehouse => Kind == WarehouseKind;
    public bool IsFiles => Kind == FilesKind;

    public sealed class Validator : AbstractValidator<OutputBody>
    {
        public Validator()
        {
            RuleFor(o => o.Name).NotEmpty().WithMessage("is required.").MaximumLength(200).OverridePropertyName("name");
            RuleFor(o => o.Kind).Must(k => k is WebhookKind or WarehouseKind or RabbitMqKind or FilesKind)
                .WithMessage($"must be \"{WebhookKind}\", \"{WarehouseKind}\", \"{RabbitMqKind}\" or \"{FilesKind}\".").OverridePropertyName("kind");
            RuleFor(o => o.Webhook).NotNull().WithMessage("is required for a webhook output.").When(o => o.Kind == WebhookKind).OverridePropertyName("webhook");
            RuleFor(o => o.Webhook!.Url)
                .Custom((url, context) => { if (OutboundUrls.Parse(url, out var problem) is null) context.AddFailure("webhook.url", problem!); })
                .When(o => o.Webhook is not null && o.Kind == WebhookKind);
            RuleFor(o => o.Warehouse).NotNull().WithMessage("is required for a warehouse output.").When(o => o.IsWarehouse).OverridePropertyName("warehouse");
            RuleFor(o => o.Warehouse!.ConnectionString)
                .Custom((text, context) => { if (WarehouseTargets.HostOf(text, out var problem) is null) context.AddFailure("warehouse.connection_string", problem!); })
                .When(o => o.IsWarehouse && o.Warehouse is not null);
            RuleFor(o => o.Warehouse!.Schema).Must(s => s is null || WarehouseTargets.IsSchemaName(s))
                .WithMessage("must be a lower-case PostgreSQL name (letters, digits, _; at most 63 characters).")
                .When(o => o.IsWarehouse && o.Warehouse is not null).OverridePropertyName("warehouse.schema");
            RuleFor(o => o.RabbitMq).Custom((rabbit, context) => { foreach (var e in RabbitMqBody.Problems(rabbit)) context.AddFailure(e.Field, e.Message); })
                .When(o => o.Kind == RabbitMqKind);
            RuleFor(o => o.Files).NotNull().WithMessage("is required for a files output.").When(o => o.IsFiles).OverridePropertyName("files");
            RuleFor(o => o.Files!.MaxFileBytes).InclusiveBetween(1, 1L << 40).WithMessage("must be between 1 and 2^40 bytes.")
                .When(o => o.IsFiles && o.Files?.MaxFileBytes is not null).OverridePropertyName("files.max_file_bytes");
        }
    }
}

/// <summary>The shape rules of a warehouse target, and how the admin API shows one (never its password).</summary>
public static class WarehouseTargets
{
    public static bool IsSchemaName(string schema) => System.Text.RegularExpressions.Regex.IsMatch(schema, "^[a-z_][a-z0-9_]{0,62}$");

    /// <summary>The one network host the connection string names, or null with the reason (a sentence to follow the field name).</summary>
    public static string? HostOf(string? connectionString, out string? problem)
    {
        problem = null;
        Npgsql.NpgsqlConnectionStringBuilder builder;
        try { builder = new Npgsql.NpgsqlConnectionStringBuilder(connectionString ?? ""); }
        catch (Exception e) when (e is ArgumentException or FormatException or InvalidCastException or KeyNotFoundException)
        {
            problem = "is not a valid PostgreSQL connection string.";
            return null;
        }
        var host = builder.Host?.Trim();
        // One host, reached over the network: a socket path or a list of hosts would escape the address check.
        if (string.IsNullOrEmpty(host) || host.StartsWith('/') || host.StartsWith('@') || host.Contains(',')
            || (host.Contains(':') && !System.Net.IPAddress.TryParse(host, out _)))
        {
            problem = "must name one network host (Host=…; Port= for the port).";
            return null;
        }
        if (string.IsNullOrEmpty(builder.Database)) { problem = "must name a database (Database=…)."; return null; }
        return host;
    }

    /// <summary>The host as a URL, so the outbound-address policy checks it exactly as it checks webhook URLs.</summary>
    public static string HostUrl(string host) => host.Contains(':') ? $"http://[{host}]/" : $"http://{host}/";

    public static object View(Domain.Forwarding.Warehouse.WarehouseSettings settings)
    {
        var b = new Npgsql.NpgsqlConnectionStringBuilder(settings.ConnectionString);
        var hasPassword = !string.IsNullOrEmpty(b.Password);
        if (hasPassword) b.Password = MaskedPassword;
        return new { connection_string = b.ConnectionString, host = b.Host, port = b.Port, database = b.Database, username = b.Username,
            schema = settings.Schema, has_password = hasPassword };
    }

    /// <summary>What the admin API shows instead of a stored password.</summary>
    public const string MaskedPassword = "********";

    /// <summary>
    /// The settings to store: a connection string without a password, or with the mask the API shows (a client that
    /// sends back what it read), keeps the one stored before.
    /// </summary>
    public static Domain.Forwarding.Warehouse.WarehouseSettings Settings(WarehouseBody body, Domain.Forwarding.Warehouse.WarehouseSettings? before)
    {
        var b = new Npgsql.NpgsqlConnectionStringBuilder(body.ConnectionString!);
        if ((string.IsNullOrEmpty(b.Password) || b.Password == MaskedPassword) && before is not null)
            b.Password = new Npgsql.NpgsqlConnectionStringBuilder(before.ConnectionString).Password;
        return new Domain.Forwarding.Warehouse.WarehouseSettings(b.ConnectionString, body.Schema ?? OutputBody.DefaultWarehouseSchema);
    }
}

/// <summary>An output as the admin API shows it: never its secret; with its delivery counters.</summary>
public sealed record OutputView(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("webhook")] object? Webhook,
    [property: JsonPropertyName("paused")] bool Paused,
    [property: JsonPropertyName("created_at")] DateTimeOffset CreatedAt,
    [property: JsonPropertyName("counters")] OutputCountersView Counters,
    [property: JsonPropertyName("workspace_id")] int? WorkspaceId,
    [property: JsonPropertyName("warehouse"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] object? Warehouse = null,
    [property: JsonPropertyName("rabbitmq"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] object? RabbitMq = null,
    [property: JsonPropertyName("files"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] object? Files = null);

public sealed record OutputCountersView(
    [property: JsonPropertyName("enqueued")] long Enqueued,
    [property: JsonPropertyName("delivered")] long Delivered,
    [property: JsonPropertyName("failed")] long Failed,
    [property: JsonPropertyName("pending")] long Pending);

public static class OutputViews
{
    public static async Task<OutputView> ViewAsync(Output output, OutputCounters counters, DeadDeliveries dead, CancellationToken ct)
    {
        var (enqueued, delivered) = await counters.ReadAsync(output.Id, ct);
        var failed = (await dead.ForOutputAsync(output.Id, ct)).Count;
        return new OutputView(output.Id, output.Name, KindName(output.Kind),
            output.Webhook is { } webhook ? new { url = webhook.Url, has_secret = webhook.Secret is { Length: > 0 } } : null,
            output.Paused, output.CreatedAt,
            new OutputCountersView(enqueued, delivered, failed, Math.Max(0, enqueued - delivered - failed)), output.WorkspaceId,
            output.Warehouse is { } warehouse ? WarehouseTargets.View(warehouse) : null,
            output.RabbitMq is { } rabbit ? RabbitMqBody.View(rabbit) : null,
            output.Files is { } files ? new { folder = files.Folder, max_file_bytes = files.MaxFileBytes, rewrite_on_erasure = files.RewriteOnErasure } : null);
    }

    public static string KindName(OutputKind kind) => kind switch
    {
        OutputKind.Warehouse => OutputBody.WarehouseKind,
        OutputKind.RabbitMq => OutputBody.RabbitMqKind,
        OutputKind.Files => OutputBody.FilesKind,
        _ => OutputBody.WebhookKind,
    };

    public static ProblemDetails Check(OutputBody body, IValidator<OutputBody> validator, WorkspaceDirectory directory, ClaimsPrincipal user, bool checkAccess = true)
    {
        var result = validator.Validate(body);
        var errors = result.Errors.Select(e => new FieldError(e.PropertyName, e.ErrorMessage)).ToList();
        if (body.WorkspaceId is { } ws && directory.WorkspaceById(ws) is null) errors.Add(new FieldError("workspace_id", $"there is no workspace {ws}."));
        if (errors.Count > 0) return ApiProblems.Invalid(errors);
        return (checkAccess ? AdminAccess.Of(user).MayChange(body.WorkspaceId, "workspace_id") : null) ?? WolverineContinue.NoProblems;
    }

    /// <summary>The shape and access first, then where the URL leads (a lookup, so not in the synchronous validator).</summary>
    public static async Task<ProblemDetails> CheckAsync(OutputBody body, IValidator<OutputBody> validator, OutboundAddresses outbound,
        WorkspaceDirectory directory, ClaimsPrincipal user, CancellationToken ct, bool checkAccess = true, Files.FilesRoot? filesRoot = null)
    {
        var shape = Check(body, validator, directory, user, checkAccess);
        if (!ReferenceEquals(shape, WolverineContinue.NoProblems)) return shape;
        if (body.IsFiles) // only under the server's root: a tenant's admin must not write anywhere on the server
            return (filesRoot ?? new Files.FilesRoot(null)).Problem(body.Files!.Folder) is { } bad
                ? ApiProblems.Invalid([new FieldError("files.folder", bad)])
                : WolverineContinue.NoProblems;
        if (body.IsWarehouse) // its host through the same policy as webhook URLs (and again at every connection)
            return await outbound.ProblemAsync(WarehouseTargets.HostUrl(WarehouseTargets.HostOf(body.Warehouse!.ConnectionString, out _)!), ct) is { } refused
                ? ApiProblems.Invalid([new FieldError("warehouse.connection_string", refused)])
                : WolverineContinue.NoProblems;
        if (body.Kind == OutputBody.RabbitMqKind)
            return await RabbitMqBody.AddressProblemAsync(body.RabbitMq!.Uri!, outbound, ct) is { } rabbitRefused
                ? ApiProblems.Invalid([new FieldError("rabbitmq.uri", rabbitRefused)])
                : WolverineContinue.NoProblems;
        return await outbound.ProblemAsync(body.Webhook!.Url, ct) is { } reason
            ? ApiProblems.Invalid([new FieldError("webhook.url", reason)])
            : WolverineContinue.NoProblems;
    }

    /// <summary>The output when this user may see it; another workspace's output is as absent as one that never was.</summary>
    public static async Task<Output?> LoadVisibleAsync(IQuerySession session, string id, ClaimsPrincipal user, CancellationToken ct) =>
        await session.LoadAsync<Output>(id, ct) is { } output && AdminAccess.Of(user).Sees(output.WorkspaceId) ? output : null;

    public static IResult NotFound(string id) =>
        Results.Problem(ApiProblems.Create(StatusCodes.Status404NotFound, "Not found", [new FieldError("id", $"There is no output {id}.", "NOT_FOUND")]));
}

public static class CreateOutputEndpoint
{
    public static Task<ProblemDetails> ValidateAsync(OutputBody body, IValidator<OutputBody> validator, OutboundAddresses outbound,
        WorkspaceDirectory directory, ClaimsPrincipal user, Files.FilesRoot filesRoot, CancellationToken ct) =>
        OutputViews.CheckAsync(body, validator, outbound, directory, user, ct, filesRoot: filesRoot);

    [WolverinePost("/api/admin/outputs", Name = "Create an output")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession)]
    public static async Task<IResult> Post(OutputBody body, IDocumentSession session, OutputCounters counters, DeadDeliveries dead, TimeProvider clock, CancellationToken ct)
    {
        var output = body.IsFiles
            ? new Output(Guid.NewGuid().ToString("N"), body.Name!, OutputKind.Files, null, false, clock.GetUtcNow(), body.WorkspaceId,
                Files: Files.FilesTargets.Settings(body.Files!))
            : body.IsWarehouse
            ? new Output(Guid.NewGuid().ToString("N"), body.Name!, OutputKind.Warehouse, null, false, clock.GetUtcNow(), body.WorkspaceId,
                WarehouseTargets.Settings(body.Warehouse!, null))
            : body.Kind == OutputBody.RabbitMqKind
            ? new Output(Guid.NewGuid().ToString("N"), body.Name!, OutputKind.RabbitMq, null, false, clock.GetUtcNow(), body.WorkspaceId, RabbitMq: body.RabbitMq!.ToSettings(null))
            : new Output(Guid.NewGuid().ToString("N"), body.Name!, OutputKind.Webhook,
                new WebhookSettings(body.Webhook!.Url!, WebhookBody.SecretToStore(body.Webhook.Secret, null)), false, clock.GetUtcNow(), body.WorkspaceId);
        session.Insert(output);
        return Results.Created($"/api/admin/outputs/{output.Id}", await OutputViews.ViewAsync(output, counters, dead, ct));
    }
}

public static class ListOutputsEndpoint
{
    [WolverineGet("/api/admin/outputs", Name = "List outputs")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession)]
    public static async Task<IResult> Get(IQuerySession session, OutputCounters counters, DeadDeliveries dead, ClaimsPrincipal user, CancellationToken ct)
    {
        var views = new List<OutputView>();
        var access = AdminAccess.Of(user);
        foreach (var output in (await session.Query<Output>().ToListAsync(ct)).Where(o => access.Sees(o.WorkspaceId)).OrderBy(o => o.CreatedAt))
            views.Add(await OutputViews.ViewAsync(output, counters, dead, ct));
        return Results.Ok(views);
    }
}

public static class GetOutputEndpoint
{
    [WolverineGet("/api/admin/outputs/{id}", Name = "Get an output")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession)]
    public static async Task<IResult> Get(string id, IQuerySession session, OutputCounters counters, DeadDeliveries dead, ClaimsPrincipal user, CancellationToken ct) =>
        await OutputViews.LoadVisibleAsync(session, id, user, ct) is { } output ? Results.Ok(await OutputViews.ViewAsync(output, counters, dead, ct)) : OutputViews.NotFound(id);
}

public static class UpdateOutputEndpoint
{
    public static Task<ProblemDetails> ValidateAsync(OutputBody body, IValidator<OutputBody> validator, OutboundAddresses outbound,
        WorkspaceDirectory directory, ClaimsPrincipal user, Files.FilesRoot filesRoot, CancellationToken ct) =>
        OutputViews.CheckAsync(body, validator, outbound, directory, user, ct, checkAccess: body.WorkspaceId is not null, filesRoot: filesRoot); // none: it keeps its workspace

    [WolverinePut("/api/admin/outputs/{id}", Name = "Update an output")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession)]
    public static async Task<IResult> Put(string id, OutputBody body, IDocumentSession session, OutputCounters counters, DeadDeliveries dead,
        OutputCache cache, ClaimsPrincipal user, CancellationToken ct)
    {
        cache.Forget(id);
        if (await OutputViews.LoadVisibleAsync(session, id, user, ct) is not { } output) return OutputViews.NotFound(id);
        // Its connections were checked against its workspace: moving it would send one workspace's data to another.
        if (body.WorkspaceId is { } moved && moved != output.WorkspaceId)
            return Results.Problem(ApiProblems.Invalid([new FieldError("workspace_id", "cannot change; create another output.")]));
        if (body.Kind != OutputViews.KindName(output.Kind))
            return Results.Problem(ApiProblems.Invalid([new FieldError("kind", "cannot change; create another output.")]));
        // A missing secret (password) keeps the one set before: the API never shows it, so a client cannot send it back.
        // A webhook's empty secret removes it (WebhookBody.SecretToStore).
        var updated = output.Kind == OutputKind.Files
            ? output with { Name = body.Name!, Files = Files.FilesTargets.Settings(body.Files!) }
            : output.Kind == OutputKind.Warehouse
            ? output with { Name = body.Name!, Warehouse = WarehouseTargets.Settings(body.Warehouse!, output.Warehouse) }
            : output.Kind == OutputKind.RabbitMq
            ? output with { Name = body.Name!, RabbitMq = body.RabbitMq!.ToSettings(output.RabbitMq) }
            : output with { Name = body.Name!, Webhook = new WebhookSettings(body.Webhook!.Url!, WebhookBody.SecretToStore(body.Webhook.Secret, output.Webhook?.Secret)) };
        session.Store(updated);
        return Results.Ok(await OutputViews.ViewAsync(updated, counters, dead, ct));
    }
}

public static class PauseOutputEndpoint
{
    [WolverinePost("/api/admin/outputs/{id}/pause", Name = "Pause an output (deliveries wait)")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession)]
    public static Task<IResult> Post(string id, IDocumentSession session, OutputCounters counters, DeadDeliveries dead, OutputCache cache, ClaimsPrincipal user, CancellationToken ct) =>
        OutputSwitch.SetPausedAsync(id, true, session, counters, dead, cache, user, ct);
}

public static class ResumeOutputEndpoint
{
    [WolverinePost("/api/admin/outputs/{id}/resume", Name = "Resume an output")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession)]
    public static Task<IResult> Post(string id, IDocumentSession session, OutputCounters counters, DeadDeliveries dead, OutputCache cache, ClaimsPrincipal user, CancellationToken ct) =>
        OutputSwitch.SetPausedAsync(id, false, session, counters, dead, cache, user, ct);
}

public static class OutputSwitch
{
    public static async Task<IResult> SetPausedAsync(string id, bool paused, IDocumentSession session, OutputCounters counters, DeadDeliveries dead,
        OutputCache cache, ClaimsPrincipal user, CancellationToken ct)
    {
        cache.Forget(id);
        if (await OutputViews.LoadVisibleAsync(session, id, user, ct) is not { } output) return OutputViews.NotFound(id);
        var updated = output with { Paused = paused };
        session.Store(updated);
        return Results.Ok(await OutputViews.ViewAsync(updated, counters, dead, ct));
    }
}

public static class DeleteOutputEndpoint
{
    [WolverineDelete("/api/admin/outputs/{id}", Name = "Delete an output and its connections")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession)]
    public static async Task<IResult> Delete(string id, IDocumentSession session, OutputCache cache, RabbitMq.RabbitMqPublisher rabbitMq, ClaimsPrincipal user, CancellationToken ct)
    {
        cache.Forget(id);
        if (await OutputViews.LoadVisibleAsync(session, id, user, ct) is null) return OutputViews.NotFound(id);
        await rabbitMq.ForgetAsync(id); // a deleted RabbitMQ output's connection is closed, not kept until the process ends
        session.Delete<Output>(id);
        session.DeleteWhere<Connection>(c => c.OutputId == id);
        return Results.NoContent();
    }
}
