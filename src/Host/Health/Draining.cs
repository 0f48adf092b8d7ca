using EventProfiles.Commands.Api;

namespace EventProfiles.Host.Health;

/// <summary>
/// A node that is told to stop (SIGTERM) keeps listening for <c>EventProfiles:Nodes:DrainMs</c> while it answers new
/// requests 503 with <c>Retry-After</c> and fails <c>/health/ready</c>: a load balancer sends the work to another node
/// (haproxy retries a 503) instead of meeting refused connections, and the client of a direct call retries. Requests
/// already taken finish as before; the batches they carry are committed before the process exits. 0 (the default)
/// stops listening at once.
/// </summary>
public sealed class Draining
{
    private volatile bool _draining;

    public bool IsDraining => _draining;

    public static void Start(WebApplication app, TimeSpan drain)
    {
        var draining = app.Services.GetRequiredService<Draining>();
        app.Lifetime.ApplicationStopping.Register(() =>
        {
            draining._draining = true;
            // Blocks the stop on purpose: the server stops listening only after this returns.
            if (drain > TimeSpan.Zero) Thread.Sleep(drain);
        });
        app.Use(async (context, next) =>
        {
            if (!draining.IsDraining || context.Request.Path.StartsWithSegments("/health/live"))
            {
                await next(context);
                return;
            }
            context.Response.Headers.RetryAfter = "1";
            await ApiProblems.WriteAsync(context, ApiProblems.Create(StatusCodes.Status503ServiceUnavailable, "Service unavailable",
                [new FieldError("", "This node is stopping; send the request again (another node takes it).", "SERVICE_UNAVAILABLE")]));
        });
    }
}
