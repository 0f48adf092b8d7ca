using EventProfiles.Commands.ActivityView;
using EventProfiles.Commands.Api;
using EventProfiles.Commands.Audiences;
using EventProfiles.Commands.CalculatedAttributes;
using EventProfiles.Commands.Forwarding;
using EventProfiles.Commands.Forwarding.Warehouse;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Commands.Identity;
using EventProfiles.Commands.Ingestion;
using EventProfiles.Commands.Operations;
using EventProfiles.Commands.Privacy;
using EventProfiles.Commands.Profiles;
using EventProfiles.Commands.Security;
using EventProfiles.Commands.Setup;
using EventProfiles.Domain.Setup;
using EventProfiles.Domain.Workspaces;
using EventProfiles.Domain.Ingestion;
using EventProfiles.Host;
using EventProfiles.Host.ActivityView;
using EventProfiles.Host.Configuration;
using EventProfiles.Host.Health;
using EventProfiles.Projections;
using EventProfiles.Projections.CalculatedAttributes;
using FluentValidation;
using JasperFx;
using Marten;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Rewrite;
using Npgsql;
using Scalar.AspNetCore;
using Wolverine;
using Wolverine.Http;
using Wolverine.ErrorHandling;
using Wolverine.Marten;

// Marten's own projection rebuild does not know about splits and merges (issue 21): refused before anything starts.
if (EventProfiles.Host.Operations.MartenProjectionsRebuild.Refusal(args) is { } refusal)
{
    Console.Error.WriteLine(refusal);
    return 1;
}

var builder = WebApplication.CreateBuilder(args);

// Outside Development, no start with a missing secret or one published in this repository (docs/security.md, deployment).
if (DeploymentChecks.Problems(builder.Configuration, builder.Environment) is [_, ..] deploymentProblems)
{
    Console.Error.WriteLine($"EventProfiles will not start in the {builder.Environment.EnvironmentName} environment:");
    foreach (var problem in deploymentProblems) Console.Error.WriteLine($"  - {problem}");
    return 1;
}

var settings = builder.Configuration.GetSection(EventProfilesSettings.Section).Get<EventProfilesSettings>() ?? new EventProfilesSettings();
var connectionString = builder.Configuration.GetConnectionString("EventProfiles")
    ?? throw new InvalidOperationException(
        "No database configured: set ConnectionStrings:EventProfiles (env ConnectionStrings__EventProfiles), or start with build/run, which starts a private PostgreSQL.");

builder.Services.AddSingleton(TimeProvider.System);

// ---- event store: one stream per person, inline profile and identity index
// Read replicas (docs/operations.md, "Read replicas"): with "Host=primary,standby" every writer (Marten, Wolverine's
// message store, our own SQL) takes the primary-only data source; only reads that may lag take the standby.
var databases = Databases.For(connectionString, "eventprofiles");
var dataSource = databases.Primary;
builder.Services.AddSingleton(databases);
builder.Services.AddSingleton(dataSource);
builder.Services.AddSingleton<LaggingReads>();

// ---- org, workspaces, inputs, API clients, admin users and identity rules: stored in the database (docs/operations.md,
// "Configuration"); appsettings only seeds an empty database. Read before the Host is built: the directory is a singleton the
// store's identity-index projection reads its (live) identity rules from.
var keysFolder = builder.Configuration["EventProfiles:DataProtection:KeysFolder"];
SetupSnapshot setup;
WorkspaceDirectory directory;
using (var startupLogging = LoggerFactory.Create(l => l.AddConfiguration(builder.Configuration.GetSection("Logging")).AddConsole()))
{
    var seedServices = new ServiceCollection().AddLogging();
    seedServices.AddDataProtection().UseSetupKeyRing(dataSource, settings.Schema, keysFolder);
    // A container of its own for Data Protection only, disposed after seeding: the Host's own is not built yet.
#pragma warning disable ASP0000
    await using var seedProvider = seedServices.BuildServiceProvider();
#pragma warning restore ASP0000
    var startSecrets = new SetupSecrets(seedProvider.GetRequiredService<Microsoft.AspNetCore.DataProtection.IDataProtectionProvider>());
    var seed = new SetupSeed(settings.BuildDirectory(), // refuses an ambiguous seed, as before
        [.. (builder.Configuration.GetSection("EventProfiles:Admin:Users").Get<List<AdminUserSettings>>() ?? [])
            .Select(u => (u.Name, u.Password, u.Workspaces is { Count: > 0 } w ? (IReadOnlyList<int>?)w : null))]);
    setup = await SetupStartup.SeedAndLoadAsync(dataSource, settings.Schema, seed, startSecrets, TimeProvider.System, startupLogging.CreateLogger("EventProfiles.Setup"));
    directory = SetupStartup.Directory(setup, startSecrets);
}
builder.Services.AddSingleton(directory);
EventProfiles.Commands.Operability.Metrics.UseMergeGuards(directory.Identity.MergeGuards); // the policy /metrics shows
builder.Services.AddDataProtection().UseSetupKeyRing(dataSource, settings.Schema, keysFolder);
builder.Services.AddSingleton<SetupSecrets>();
var adminUsers = new AdminUsers(SetupStartup.Users(setup));
builder.Services.AddSingleton(adminUsers);
builder.Services.AddSingleton(sp =>
{
    var refresh = new SetupRefresh(sp.GetRequiredService<Marten.IDocumentStore>(), directory, adminUsers, sp.GetRequiredService<SetupSecrets>(),
        TimeSpan.FromMilliseconds(builder.Configuration.GetValue("EventProfiles:Setup:RefreshMs", 1_000)), sp.GetRequiredService<ILogger<SetupRefresh>>());
    refresh.Started(setup);
    return refresh;
});
builder.Services.AddHostedService(sp => sp.GetRequiredService<SetupRefresh>());
// The Profile API reads through a pool of its own that skips the per-checkout reset (ProfileReadDatabase says why that is safe).
// It stays on the primary (a client reads its own write) unless EventProfiles:Reads:ProfileApiFromStandby says otherwise.
builder.Services.AddSingleton(ProfileReadDatabase.For(connectionString, builder.Configuration.GetValue("EventProfiles:Reads:ProfileApiFromStandby", false)));
builder.Services.AddSingleton<ProfileReader>();
builder.Services.AddSingleton<ProfileHistoryReader>(); // as_of, attribute history and provenance (issue 21 §2, §3)
// Nodes: Balanced (the default) lets several Hosts share one database; Wolverine elects a leader, recovers a dead
// node's envelopes and runs each async shard as an agent on exactly one node. Solo is for one node only (docs/operations.md, "Scaling out").
var durability = builder.Configuration.GetValue("EventProfiles:Durability", DurabilityMode.Balanced);
var wolverineRunsTheShards = durability == DurabilityMode.Balanced;
var marten = builder.Services.AddMarten(services =>
    {
        var opts = new StoreOptions();
        opts.Connection(dataSource);
        opts.DatabaseSchemaName = settings.Schema;
        opts.ConfigureEventProfiles(() => directory.Identity, services.GetRequiredService<TimeProvider>(),
            services.GetRequiredService<ILoggerFactory>().CreateLogger("EventProfiles.CalculatedAttributes"));
        // How often the daemon looks for new events while they arrive / once it has caught up. Marten waits 1 s once caught
        // up, and under steady load the shard catches up between pages: that wait was the calculations' and audiences' lag
        // (p99 ~1 s at half load); 250 ms made it 0.24 s (docs/operations.md, "Stop 32").
        if (builder.Configuration.GetValue<int?>("EventProfiles:Calculations:FastPollingMs") is { } fast) opts.Projections.FastPollingTime = TimeSpan.FromMilliseconds(fast);
        opts.Projections.SlowPollingTime = TimeSpan.FromMilliseconds(builder.Configuration.GetValue<int?>("EventProfiles:Calculations:SlowPollingMs") ?? 250);
        opts.AddIngestionTables();
        EventProfiles.Commands.CalculatedAttributes.SynchronousCalculationsStorage.AddSynchronousCalculationTables(opts);
        opts.AddIdentityDocuments();
        opts.AddForwarding();
        EventProfiles.Commands.Catalog.CatalogStorage.AddCatalog(opts);
        opts.AddWarehouseOutputs();
        opts.AddAudienceDocuments();
        opts.Schema.For<CalculationsFeedHold>(); // an activation in progress, read by the calculations feed keeper
        opts.AddPrivacyDocuments();
        opts.AddOperationDocuments();
        opts.AddSecurityTables();
        opts.AddSetupDocuments();
        return opts;
    })
    .UseLightweightSessions()
    .ApplyAllDatabaseChangesOnStartup();
// Balanced: the calculations shard is a Wolverine agent (failover and pauses are the leader's); Wolverine refuses a
// Marten daemon mode beside it. Solo: Marten's own daemon on this node (HotCold unless EventProfiles:Daemon says otherwise).
if (wolverineRunsTheShards) marten.IntegrateWithWolverine(m => m.UseWolverineManagedEventSubscriptionDistribution = true);
else marten.AddAsyncDaemon(builder.Configuration.GetValue("EventProfiles:Daemon", JasperFx.Events.Daemon.DaemonMode.HotCold)).IntegrateWithWolverine();

builder.Host.UseWolverine(opts =>
{
    opts.Policies.AutoApplyTransactions();
    // Background work (alias copies, deliveries to outputs) survives restarts: local queues are backed by the database.
    opts.Policies.UseDurableLocalQueues();

    // Deliveries: a refusal (400, 409, 413, …) is final; a failure (5xx, timeout, no connection) is retried with
    // back-off, durably (the retry is a scheduled message), and dead-lettered after the last attempt (forwarding.md §5).
    var retryDelays = DeliveryRetries.DelaysMs(builder.Configuration);
    opts.OnException<DeliveryRejectedException>().MoveToErrorQueue();
    opts.OnException<DeliveryFailedException>().ScheduleRetry(retryDelays.Select(ms => TimeSpan.FromMilliseconds(ms)).ToArray());
    // Deliveries wait on the network, not the CPU: several at once per node.
    opts.LocalQueueFor<DeliverBatch>().MaximumParallelMessages(builder.Configuration.GetValue("EventProfiles:Forwarding:Parallelism", 16))
        // The envelope id is the delivery's WorkId, recorded with its person and workspace: what an erasure deletes it by.
        .CustomizeOutgoing(e => { if (e.Message is DeliverBatch d) e.Id = d.WorkId; });
    // One envelope per output and ingestion transaction; it holds only ids (the batches are rows of ep_deliveries).
    opts.LocalQueueFor<DeliverBatches>().MaximumParallelMessages(builder.Configuration.GetValue("EventProfiles:Forwarding:Parallelism", 16));
    // The same for the projection's messages about one person (see PersonWorkRecord).
    opts.LocalQueueFor<AudienceMembershipsChanged>().CustomizeOutgoing(e => { if (e.Message is AudienceMembershipsChanged m) e.Id = m.WorkId; });
    // Handled in batches (one transaction, one delivery envelope per audience output): each message stays its own
    // durable envelope until its batch is handled.
    opts.BatchMessagesOf<AudienceMembershipsChanged>(b =>
    {
        b.BatchSize = builder.Configuration.GetValue("EventProfiles:Audiences:ChangeBatchSize", 500);
        b.TriggerTime = TimeSpan.FromMilliseconds(builder.Configuration.GetValue("EventProfiles:Audiences:ChangeBatchMs", 20));
    });
    opts.LocalQueueFor<ReevaluateAudiencesAt>().CustomizeOutgoing(e => { if (e.Message is ReevaluateAudiencesAt m) e.Id = m.WorkId; });
    // Replays that initialise calculated attributes and audiences run one at a time, in order, in the background:
    // an audience's job runs after its event counters' replays.
    opts.LocalQueue("initialisation").Sequential();
    opts.PublishMessage<InitialiseCalculatedAttribute>().ToLocalQueue("initialisation");
    opts.PublishMessage<InitialiseAudience>().ToLocalQueue("initialisation");
    opts.PublishMessage<CalculateStandardAudience>().ToLocalQueue("initialisation");
    opts.Discovery.IncludeAssembly(typeof(IngestBatchEndpoint).Assembly);
    opts.Durability.Mode = durability;
    // How fast a dead node is noticed and its agents move (Wolverine: heartbeat 10 s (ours 2 s, below), stale after 1 min, assignments
    // checked every 30 s); tests and build/cluster shorten them.
    var nodes = builder.Configuration.GetSection("EventProfiles:Nodes");
    // Our default heartbeat is 2 s, not Wolverine's 10 s: the leader's first assignment check (which starts the
    // calculations shard) comes one heartbeat after the first, so with 10 s a fresh or restarted node computed nothing
    // for its first ~13 s (h4: first progress 13.4 s after the Host was ready). A heartbeat is one small write per node.
    var heartbeat = nodes.GetValue<int?>("HeartbeatMs") ?? 2_000;
    opts.Durability.HealthCheckPollingTime = TimeSpan.FromMilliseconds(heartbeat);
    opts.Durability.FirstHealthCheckExecution = TimeSpan.FromMilliseconds(Math.Min(heartbeat, 3_000));
    if (nodes.GetValue<int?>("StaleNodeMs") is { } stale) opts.Durability.StaleNodeTimeout = TimeSpan.FromMilliseconds(stale);
    if (nodes.GetValue<int?>("CheckAssignmentMs") is { } check) opts.Durability.CheckAssignmentPeriod = TimeSpan.FromMilliseconds(check);
    if (nodes.GetValue<int?>("RecoveryPollingMs") is { } recovery)
    {
        opts.Durability.ScheduledJobPollingTime = TimeSpan.FromMilliseconds(recovery);
        opts.Durability.NodeReassignmentPollingTime = TimeSpan.FromMilliseconds(recovery);
    }
});
builder.Services.AddWolverineHttp();

// ---- ingestion: validation and the group-commit pipeline
builder.Services.AddSingleton<IValidator<Batch>, BatchValidator>();
builder.Services.Configure<IngestionOptions>(builder.Configuration.GetSection("EventProfiles:Ingestion"));
builder.Services.AddSingleton<IngestionPipeline>();
builder.Services.AddHostedService(sp => sp.GetRequiredService<IngestionPipeline>());
// The catalog of names seen per workspace: counted in memory by ingestion, written every second (docs/console.md).
builder.Services.AddSingleton<EventProfiles.Commands.Catalog.CatalogRecorder>();
builder.Services.AddHostedService(sp => sp.GetRequiredService<EventProfiles.Commands.Catalog.CatalogRecorder>());
// In-flight batches finish before the process exits.
builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));

// ---- authentication: input Basic for the Events API, bearer tokens for the Profile API
var tokenOptions = builder.Configuration.GetSection("EventProfiles:ProfileApiTokens").Get<ProfileApiTokenOptions>() ?? new();
var tokens = new ProfileApiTokens(ProfileApiTokens.KeyFrom(tokenOptions), TimeProvider.System);
builder.Services.AddSingleton(tokens);
builder.Services.AddAuthentication()
    .AddScheme<AuthenticationSchemeOptions, InputBasicAuthenticationHandler>(AuthSchemes.InputBasic, null)
    .AddScheme<AuthenticationSchemeOptions, IdentityApiAuthenticationHandler>(AuthSchemes.IdentityApi, null)
    .AddScheme<AuthenticationSchemeOptions, AdminBasicAuthenticationHandler>(AuthSchemes.Admin, null)
    .AddAdminSession(TimeSpan.FromMinutes(builder.Configuration.GetValue("EventProfiles:Admin:SessionMinutes", 60)))
    .AddScheme<AuthenticationSchemeOptions, ProfileApiBearerHandler>(AuthSchemes.ProfileApiBearer, null); // tokens from POST /oauth/token
builder.Services.AddApiAuthorization(); // bearer scopes and org-wide admin operations, refused with a 403 naming what is missing
builder.Services.AddRateLimiter(o => DsrRateLimits.Configure(o, builder.Configuration.GetValue("EventProfiles:Dsr:RequestsPerMinute", 1_000)));
builder.Services.AddSingleton<DsrRequestCounts>(); // the rate limit's count, shared by every node

// ---- forwarding: outputs, connections, deliveries, live stream
builder.Services.AddSingleton<LiveStream>();
builder.Services.AddHostedService(sp => sp.GetRequiredService<LiveStream>()); // relays lines between nodes (LISTEN/NOTIFY)
builder.Services.AddSingleton<EventProfiles.Commands.NativeSdks.NativeUploadCounters>();
builder.Services.AddSingleton<OutputCounters>();
builder.Services.AddHostedService(sp => sp.GetRequiredService<OutputCounters>());
builder.Services.AddSingleton<OutputCache>();
builder.Services.AddSingleton<EnrichmentDefinitionsCache>();
builder.Services.AddSingleton<DeadDeliveries>();
builder.Services.AddSingleton<WebhookSender>();
builder.Services.AddSingleton<WarehouseOutputs>();
// RabbitMQ outputs: a broker per output through Wolverine's RabbitMQ transport, under the same outbound address policy.
builder.Services.AddSingleton(sp => new EventProfiles.Commands.Forwarding.RabbitMq.RabbitMqPublisher(sp.GetRequiredService<Wolverine.Runtime.IWolverineRuntime>(),
    new EventProfiles.Domain.Security.OutboundAllowList(builder.Configuration.GetSection(OutboundAddresses.AllowedHostsSetting).Get<string[]>() ?? []),
    sp.GetRequiredService<EventProfiles.Domain.Workspaces.WorkspaceDirectory>()));
builder.Services.AddSingleton(new EventProfiles.Commands.Forwarding.Files.FilesRoot(builder.Configuration[EventProfiles.Commands.Forwarding.Files.FilesRoot.Setting]));
builder.Services.AddSingleton<EventProfiles.Commands.Forwarding.Files.FilesOutputs>();
// Every outbound call (webhooks, OpenDSR callbacks) goes through this client: one address policy, checked at connect time.
builder.Services.AddSingleton(new OutboundAddresses(builder.Configuration.GetSection(OutboundAddresses.AllowedHostsSetting).Get<string[]>() ?? []));
builder.Services.AddHttpClient(nameof(WebhookSender), client => client.Timeout = TimeSpan.FromSeconds(10))
    .ConfigurePrimaryHttpMessageHandler(sp => sp.GetRequiredService<OutboundAddresses>().CreateHandler());
builder.Services.AddValidatorsFromAssemblyContaining<OutputBody>(ServiceLifetime.Singleton, includeInternalTypes: false);
builder.Services.AddSingleton(builder.Configuration.GetSection("EventProfiles:CredentialThrottle").Get<CredentialThrottleOptions>() ?? new CredentialThrottleOptions());
builder.Services.AddSingleton<CredentialFailures>();
builder.Services.AddSingleton<CredentialThrottle>();
builder.Services.AddSingleton(new SignInForm((returnUrl, error, status) => ActivityViewPages.SignInPage(returnUrl, error, false, status)));
builder.Services.AddSingleton(sp => new PublicBaseUrl(builder.Configuration[DeploymentChecks.PublicBaseUrl], sp.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()));

// ---- calculated attributes: plan limits (the real-time lookback bounds windows and initialisation)
builder.Services.AddSingleton(builder.Configuration.GetSection("EventProfiles:CalculatedAttributes").Get<CalculatedAttributeLimits>() ?? new CalculatedAttributeLimits());

// ---- the calculations shard reads no events while nothing is calculated (a look once a second; 0 = always read everything)
builder.Services.AddSingleton<CalculationsShard>(); // stops and starts the shard wherever it runs (Wolverine's agent controls)
builder.Services.AddSingleton(sp => new CalculationsFeedKeeper(sp.GetRequiredService<CalculationsShard>(), sp.GetRequiredService<Marten.IDocumentStore>(), dataSource,
    TimeSpan.FromMilliseconds(builder.Configuration.GetValue("EventProfiles:Calculations:FeedCheckMs", 1_000)), sp.GetRequiredService<TimeProvider>(),
    sp.GetRequiredService<ILogger<CalculationsFeedKeeper>>()));
builder.Services.AddHostedService(sp => sp.GetRequiredService<CalculationsFeedKeeper>());

// ---- audiences: time-based re-evaluation at the moments the projection scheduled
// One node runs it (a Wolverine agent the leader assigns), not every node.
builder.Services.AddSingleton<ReevaluationScheduler>();
builder.Services.AddSingleton<Wolverine.Runtime.Agents.IAgentFamily>(sp => new OneNodeLoop("audience-reevaluation", sp.GetRequiredService<ReevaluationScheduler>()));

// ---- data subject requests: the key that signs responses and callbacks
builder.Services.AddSingleton(new DsrSigner(builder.Configuration["EventProfiles:Dsr:SigningKeyPem"]));
// The retention sweep and profile lifetime run on one node (a Wolverine agent the leader assigns), not every node.
builder.Services.AddSingleton<RetentionEnforcer>();
builder.Services.AddSingleton<Wolverine.Runtime.Agents.IAgentFamily>(sp => new OneNodeLoop("retention", sp.GetRequiredService<RetentionEnforcer>()));

// ---- operations: rebuilds, data replay, export and import as durable jobs (admin API and command line)
builder.Services.AddSingleton(new OperationFiles(builder.Configuration["EventProfiles:Operations:Folder"]
    ?? Path.Combine(builder.Environment.ContentRootPath, ".data", "operations")));
builder.Services.AddSingleton<RebuildCalculations>();
builder.Services.AddSingleton<RebuildProjections>(); // also what an erasure folds the people it leaves with again
builder.Services.AddSingleton<EventProfiles.Commands.Identity.PeopleRepair>(); // splits and merges (issue 21 §1)
builder.Services.AddSingleton<IOperation>(sp => sp.GetRequiredService<RebuildProjections>());
builder.Services.AddSingleton<IOperation, ReplayBatches>();
builder.Services.AddSingleton<IOperation, ExportEvents>();
builder.Services.AddSingleton<IOperation, ImportEvents>();
builder.Services.AddSingleton<IOperation, WarehouseResync>();
builder.Services.AddHostedService<OperationRunner>();

// ---- identity (IDSync) and the browser SDK's endpoints
builder.Services.AddSingleton<IdentityStore>();
builder.Services.Configure<SignedRequestOptions>(builder.Configuration.GetSection(SignedRequestOptions.Section));
var sdkOrigins = builder.Configuration.GetSection("EventProfiles:Sdk:AllowedOrigins").Get<string[]>() ?? [];
builder.Services.AddCors(o => o.AddPolicy(SdkCors.Policy, policy =>
{
    // The SDK runs on the customer's pages, so every call is cross-origin (no credentials are sent).
    if (sdkOrigins.Contains("*")) policy.SetIsOriginAllowed(_ => true);
    else policy.WithOrigins(sdkOrigins);
    policy.WithMethods("GET", "POST", "OPTIONS").AllowAnyHeader().SetPreflightMaxAge(TimeSpan.FromMinutes(10));
}));
// Request bodies: decompressed (Android gzips identity requests, identity.md §2) and capped per endpoint family after
// decompression; JSON bodies checked once for what no endpoint can store (docs/security.md, "Input").
builder.Services.AddSingleton(new BodyLimits(builder.Configuration.GetValue("EventProfiles:Operations:MaxUploadBytes", BodyLimits.DefaultMaxUploadBytes)));
builder.Services.AddSingleton<RequestBodyMiddleware>();

// ---- operability
builder.Services.AddProblemDetails();
builder.Services.AddSingleton<Draining>();
builder.Services.AddHealthChecks().AddCheck<DatabaseHealthCheck>("database", tags: ["ready"]);
builder.Services.AddOpenApi();
builder.AddEventProfilesTelemetry(); // metrics, /metrics, OTLP traces and logs when configured (Telemetry.cs)

var app = builder.Build();
// Before anything opens a session or starts the daemon: the daemon's page fetch reshaped so that it cannot become a hash
// join over every stream row (CalculationsFetch; docs/operations.md, "stop 29"), around Marten's own logger.
EventProfiles.Projections.CalculatedAttributes.FetchReshapingLogger.Install(((Marten.DocumentStore)app.Services.GetRequiredService<Marten.IDocumentStore>()).Options);

if (tokenOptions.SigningKey is not { Length: > 0 })
    app.Logger.LogWarning("EventProfiles:ProfileApiTokens:SigningKey is not set: Profile API tokens are signed with a per-process key and stop working on restart.");

// The client address (it keys the credential throttle) from X-Forwarded-For only when a configured proxy sent it.
if (ClientAddresses.Options(builder.Configuration) is { } forwardedHeaders) app.UseForwardedHeaders(forwardedHeaders);
app.UseExceptionHandler();
// On SIGTERM: new requests are answered 503 + Retry-After for EventProfiles:Nodes:DrainMs before the server stops listening.
Draining.Start(app, TimeSpan.FromMilliseconds(builder.Configuration.GetValue("EventProfiles:Nodes:DrainMs", 0)));
// A 4xx the framework answers with no body (no route, wrong method, unsupported media type) still gets ProblemDetails.
app.UseStatusCodePages();
// mParticle's CNAME path families (web SDK `domain` option) lead to the same endpoints as the direct ones.
app.UseRewriter(new RewriteOptions()
    .AddRewrite("^identity/v1/(.*)", "v1/$1", skipRemainingRules: true)
    .AddRewrite("^webevents/v3/JS/(.*)", "v3/JS/$1", skipRemainingRules: true)
    .AddRewrite("^webevents/v1/identity/(.*)", "v1/identity/$1", skipRemainingRules: true)
    .AddRewrite("^nativeevents/v1/identity/(.*)", "v1/identity/$1", skipRemainingRules: true) // native SDKs' customBaseURL alias
    .AddRewrite("^tags/JS/v2/(.*)", "JS/v2/$1", skipRemainingRules: true));
var bodies = app.Services.GetRequiredService<RequestBodyMiddleware>();
app.Use((context, next) => bodies.LimitAsync(context, () => next(context)));
app.UseRouting();
app.UseCors();
app.UseAuthentication();
app.UseAuthorization();
app.Use((context, next) => bodies.CheckJsonAsync(context, () => next(context)));
app.UseRateLimiter();

app.MapWolverineEndpoints(o => o.RejectUnparseableQueryValues = true); // a bad query value is a 400, not a default
app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false });
app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains("ready") });
app.MapOpenApi("/openapi/{documentName}.json");
app.MapScalarApiReference("/docs", o => o.WithTitle("EventProfiles API").WithOpenApiRoutePattern("/openapi/{documentName}.json"));
app.MapActivityView();
app.MapEventProfilesTelemetry();
app.MapGet("/", () => Results.Redirect("/ui/")).ExcludeFromDescription();

return await app.RunJasperFxCommands(args);

/// <summary>Entry point type, public so integration tests can boot the real host.</summary>
public partial class Program;
