using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace EventProfiles.Integration.Tests.Fixtures;

/// <summary>
/// A consumer of the private RabbitMQ node build/test starts (<c>EVENTPROFILES_TEST_RABBITMQ</c>): an exchange of its own
/// (topic), a durable queue bound to it with <c>#</c>, and every message received with its message id and routing key.
/// Deleted on dispose.
/// </summary>
public sealed class RabbitMqConsumer : IAsyncDisposable
{
    public string Uri { get; }
    public string Exchange { get; } = $"ep-test-{Guid.NewGuid():N}";
    public string Queue => Exchange + ".all";
    public ConcurrentQueue<(string? MessageId, string RoutingKey, JsonObject Body)> Received { get; } = new();
    private IConnection? _connection;
    private IChannel? _channel;

    private RabbitMqConsumer(string uri) => Uri = uri;

    public static string BrokerUri => Environment.GetEnvironmentVariable("EVENTPROFILES_TEST_RABBITMQ")
        ?? throw new InvalidOperationException("EVENTPROFILES_TEST_RABBITMQ is not set. Run the tests with build/test, which starts a private RabbitMQ node and sets it.");

    public static async Task<RabbitMqConsumer> StartAsync()
    {
        var consumer = new RabbitMqConsumer(BrokerUri);
        await consumer.ConnectAsync();
        return consumer;
    }

    /// <summary>Connects (again, after the broker was restarted) and consumes the queue; what waited there arrives.</summary>
    public async Task ConnectAsync()
    {
        await CloseAsync();
        var factory = new ConnectionFactory { Uri = new Uri(Uri), ClientProvidedName = "EventProfiles tests" };
        _connection = await factory.CreateConnectionAsync();
        _channel = await _connection.CreateChannelAsync();
        await _channel.ExchangeDeclareAsync(Exchange, ExchangeType.Topic, durable: true, autoDelete: false);
        await _channel.QueueDeclareAsync(Queue, durable: true, exclusive: false, autoDelete: false);
        await _channel.QueueBindAsync(Queue, Exchange, "#");
        var consumer = new AsyncEventingBasicConsumer(_channel);
        consumer.ReceivedAsync += async (_, message) =>
        {
            Received.Enqueue((message.BasicProperties.MessageId, message.RoutingKey, JsonNode.Parse(Encoding.UTF8.GetString(message.Body.Span))!.AsObject()));
            await _channel.BasicAckAsync(message.DeliveryTag, multiple: false);
        };
        await _channel.BasicConsumeAsync(Queue, autoAck: false, consumer);
    }

    /// <summary>Stops consuming (the queue stays, and keeps what arrives for the next <see cref="ConnectAsync"/>).</summary>
    public Task DisconnectAsync() => CloseAsync();

    /// <summary>The forwarded batches of one customer (by customer_id), as webhooks' <c>Receiver.BatchesOf</c>.</summary>
    public IReadOnlyList<(string? MessageId, string RoutingKey, JsonObject Body)> BatchesOf(string customerId) =>
        Received.Where(r => r.Body["user_identities"] is JsonArray ids
            && ids.Any(i => i?["identity_type"]?.GetValue<string>() == "customer_id" && i["identity"]?.GetValue<string>() == customerId)).ToList();

    /// <summary>Stops (<c>stop</c>) or starts and waits for (<c>start</c>) the private node, its data kept (build/test says how).</summary>
    public static async Task NodeAsync(string action)
    {
        var command = Environment.GetEnvironmentVariable("EVENTPROFILES_TEST_RABBITMQ_NODE")
            ?? throw new InvalidOperationException("EVENTPROFILES_TEST_RABBITMQ_NODE is not set (build/test sets it).");
        using var process = Process.Start(new ProcessStartInfo("/bin/sh", ["-c", string.Format(command, action)]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var errors = process.StandardError.ReadToEndAsync();
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0) throw new InvalidOperationException($"the RabbitMQ node did not {action}: {await errors}{output}");
    }

    private async Task CloseAsync()
    {
        try
        {
            if (_channel is not null) await _channel.DisposeAsync();
            if (_connection is not null) await _connection.DisposeAsync();
        }
        catch (Exception e) when (e is RabbitMQ.Client.Exceptions.AlreadyClosedException or IOException or ObjectDisposedException) { }
        (_channel, _connection) = (null, null);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_channel is { IsOpen: true } channel)
            {
                await channel.QueueDeleteAsync(Queue);
                await channel.ExchangeDeleteAsync(Exchange);
            }
        }
        catch (Exception e) when (e is RabbitMQ.Client.Exceptions.AlreadyClosedException or RabbitMQ.Client.Exceptions.OperationInterruptedException) { }
        await CloseAsync();
    }
}
