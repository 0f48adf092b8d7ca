using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using EventProfiles.Commands.Security;
using EventProfiles.Domain.Forwarding;
using EventProfiles.Domain.Security;
using EventProfiles.Domain.Workspaces;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using Wolverine;
using Wolverine.RabbitMQ;
using RabbitMqTransport = Wolverine.RabbitMQ.Internal.RabbitMqTransport;
using Wolverine.Runtime;
using Wolverine.Configuration;
using Wolverine.Transports.Sending;

namespace EventProfiles.Commands.Forwarding.RabbitMq;

/// <summary>
/// Publishes deliveries of RabbitMQ outputs through Wolverine's RabbitMQ transport. Outputs are created at run time, so
/// each gets a broker of its own (a named <see cref="RabbitMqTransport"/> with its URI, a sending connection only, channels
/// with publisher confirms), built on first use and rebuilt when the output's settings change. The durable part stays
/// where it is for webhooks: the delivery waits in Wolverine's durable local queue (<see cref="DeliverBatch"/>,
/// <see cref="DeliverBatches"/>) until the broker has confirmed the message, so Wolverine's retries, dead letters, pause,
/// erasure and replay apply unchanged; a publish that fails or is not confirmed in time is a <see cref="DeliveryFailedException"/>.
/// </summary>
public sealed class RabbitMqPublisher(IWolverineRuntime runtime, OutboundAllowList allowList, WorkspaceDirectory directory)
    : IAsyncDisposable
{
    /// <summary>How long a publish waits for the broker's confirm before it counts as failed (and is retried).</summary>
    public static readonly TimeSpan ConfirmTimeout = TimeSpan.FromSeconds(10);

    private readonly ConcurrentDictionary<string, Lazy<Task<Broker>>> _brokers = new();

    private sealed record Broker(RabbitMqSettings Settings, RabbitMqTransport Transport, ISender Sender);

    public async Task PublishAsync(Output output, RabbitMqSettings settings, DeliverBatch delivery, CancellationToken ct)
    {
        var where = $"RabbitMQ exchange \"{settings.Exchange}\" at {settings.MaskedUri()}"; // never the password
        Broker broker;
        try
        {
            broker = await BrokerAsync(output.Id, settings);
        }
        catch (Exception e) when (OutboundAddresses.RefusalOf(e) is { } refusal)
        {
            throw new DeliveryRejectedException($"{where} was not called: {refusal.Message}.");
        }
        catch (Exception e) when (e is BrokerUnreachableException or IOException or SocketException or OperationInterruptedException or TimeoutException
                                      or InvalidOperationException or AlreadyClosedException)
        {
            throw new DeliveryFailedException($"{where} could not be reached: {Reason(e)}");
        }

        var envelope = new Envelope
        {
            Id = delivery.DeliveryId, // the AMQP message id: what consumers dedupe on, as webhook receivers do on X-EventProfiles-Delivery-Id
            Data = Encoding.UTF8.GetBytes(delivery.Payload),
            ContentType = "application/json",
            TopicName = RabbitMqRoutingKeys.Key(settings.RoutingKey, WorkspaceOf(output, delivery), delivery.Input, delivery.Payload),
        };
        try
        {
            await broker.Sender.SendAsync(envelope).AsTask().WaitAsync(ConfirmTimeout, ct);
        }
        catch (Exception e) when (e is PublishException { IsReturn: false })
        {
            throw new DeliveryFailedException($"{where} did not accept the message (nack).");
        }
        catch (Exception e) when (e is OperationInterruptedException { ShutdownReason.ReplyCode: 404 })
        {
            // The exchange does not exist: the channel is closed by the broker; a new one is made on the next attempt.
            await ForgetAsync(output.Id);
            throw new DeliveryFailedException($"{where}: the exchange does not exist.");
        }
        catch (Exception e) when (e is TimeoutException or IOException or SocketException or OperationInterruptedException or InvalidOperationException
                                      or AlreadyClosedException or ObjectDisposedException)
        {
            await ForgetAsync(output.Id);
            throw new DeliveryFailedException($"{where}: the message was not confirmed: {Reason(e)}");
        }
    }

    /// <summary>The workspace of the message for the routing key: its input's, else the output's (null: an org-wide message).</summary>
    private int? WorkspaceOf(Output output, DeliverBatch delivery) => directory.InputByName(delivery.Input)?.Workspace.Id ?? output.WorkspaceId;

    private static string Reason(Exception e) => e.InnerException is { } inner && e is BrokerUnreachableException ? inner.Message : e.Message;

    private async Task<Broker> BrokerAsync(string outputId, RabbitMqSettings settings)
    {
        while (true)
        {
            var lazy = _brokers.GetOrAdd(outputId, _ => new Lazy<Task<Broker>>(() => ConnectAsync(outputId, settings)));
            Broker broker;
            try
            {
                broker = await lazy.Value;
            }
            catch
            {
                _brokers.TryRemove(KeyValuePair.Create(outputId, lazy)); // the next attempt connects again
                throw;
            }
            if (broker.Settings == settings) return broker;
            // The output was edited: its old broker goes, the new settings connect.
            if (_brokers.TryRemove(KeyValuePair.Create(outputId, lazy))) await DisposeAsync(broker);
        }
    }

    /// <summary>Closes the output's broker connection (the output was deleted, or its connection failed); the next publish connects again.</summary>
    public async Task ForgetAsync(string outputId)
    {
        if (_brokers.TryRemove(outputId, out var lazy) && lazy.IsValueCreated && lazy.Value.IsCompletedSuccessfully) await DisposeAsync(lazy.Value.Result);
    }

    private async Task<Broker> ConnectAsync(string outputId, RabbitMqSettings settings)
    {
        var uri = new Uri(settings.Uri);
        var allowed = allowList.Allows(uri.Host.Trim('[', ']')) || allowList.Allows(uri.Host);
        // A broker of its own per output: Wolverine's named brokers are fixed at start-up, outputs are not.
        var scratch = new WolverineOptions();
        var name = new BrokerName($"output-{outputId}");
        scratch.AddNamedRabbitMqBroker(name, factory =>
            {
                factory.Uri = uri;
                factory.ClientProvidedName = $"EventProfiles output {outputId}";
                factory.RequestedConnectionTimeout = TimeSpan.FromSeconds(5);
                factory.AutomaticRecoveryEnabled = true;
                // Connect-time policy: the client resolves the host itself, then asks this factory for a socket per address.
                factory.SocketFactory = family => new CheckedTcpClient(ConnectionFactoryBase.DefaultSocketFactory(family), allowed);
            })
            .UseSenderConnectionOnly()
            .ConfigureChannelCreation(channel =>
            {
                // Publisher confirms: a publish returns once the broker has the message, and a nack is an exception.
                channel.PublisherConfirmationsEnabled = true;
                channel.PublisherConfirmationTrackingEnabled = true;
            });
        var transport = scratch.Transports.GetOrCreate<RabbitMqTransport>(name);
        try
        {
            await transport.ConnectAsync(runtime);
            var exchange = transport.EndpointForExchange(settings.Exchange);
            exchange.DisableAutoProvision = true; // the customer's exchange: never declared or changed by us
            exchange.Mode = EndpointMode.Durable; // persistent messages: they survive a broker restart once confirmed
            // By topic: each message's routing key is its envelope's topic (RabbitMqRoutingKeys.Key).
            var sender = transport.BuildSender(exchange, RoutingMode.ByTopic, runtime);
            return new Broker(settings, transport, sender);
        }
        catch
        {
            await transport.DisposeAsync();
            throw;
        }
    }

    private static async Task DisposeAsync(Broker broker)
    {
        try
        {
            if (broker.Sender is IAsyncDisposable sender) await sender.DisposeAsync();
            await broker.Transport.DisposeAsync();
        }
        catch (Exception e) when (e is IOException or OperationInterruptedException or AlreadyClosedException or ObjectDisposedException)
        {
            // a connection that is already gone
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var id in _brokers.Keys.ToList()) await ForgetAsync(id);
    }

    /// <summary>A socket that connects only to addresses the outbound policy allows (any, for an allow-listed host).</summary>
    private sealed class CheckedTcpClient(ITcpClient inner, bool hostAllowed) : ITcpClient
    {
        public bool Connected => inner.Connected;
        public TimeSpan ReceiveTimeout { get => inner.ReceiveTimeout; set => inner.ReceiveTimeout = value; }
        public Socket Client => inner.Client;

        public Task ConnectAsync(IPAddress host, int port, CancellationToken cancellationToken = default) =>
            !hostAllowed && OutboundAddressRules.Refusal(host) is { } kind
                ? throw new OutboundAddressRefusedException($"{OutboundAddresses.NotAllowed}: {kind}")
                : inner.ConnectAsync(host, port, cancellationToken);

        public NetworkStream GetStream() => inner.GetStream();
        public void Close() => inner.Close();
        public void Dispose() => inner.Dispose();
    }
}
