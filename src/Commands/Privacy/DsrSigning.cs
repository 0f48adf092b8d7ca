using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using EventProfiles.Commands.Forwarding;
using EventProfiles.Commands.Security;
using EventProfiles.Domain.Privacy;

namespace EventProfiles.Commands.Privacy;

/// <summary>
/// Signs OpenDSR responses and callbacks: <c>X-OpenDSR-Signature</c> = base64 RSA-SHA256 of the raw body (§4.4), verifiable
/// with the certificate served at <c>/v3/certificate.pem</c>. The key comes from <c>EventProfiles:Dsr:SigningKeyPem</c>,
/// else one is made per process (signatures then change on restart).
/// </summary>
public sealed class DsrSigner : IDisposable
{
    private readonly RSA _key;

    public DsrSigner(string? pem)
    {
        _key = RSA.Create(2048);
        if (pem is { Length: > 0 }) _key.ImportFromPem(pem);
        var request = new CertificateRequest($"CN={DsrProblems.ProcessorDomain}", _key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(2));
        CertificatePem = certificate.ExportCertificatePem();
    }

    public string CertificatePem { get; }

    public string Sign(string body) =>
        Convert.ToBase64String(_key.SignData(Encoding.UTF8.GetBytes(body), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));

    public void Dispose() => _key.Dispose();
}

/// <summary>A status callback to send (durable; retried like deliveries).</summary>
public sealed record SendDsrCallback(string Url, string Body);

public static class DsrCallbacks
{
    /// <summary>One callback per URL with the request's current status (§4.4: on every change, creation included).</summary>
    public static IEnumerable<object> For(DataSubjectRequest request)
    {
        var body = JsonSerializer.Serialize(DsrStatusView.Of(request));
        return request.CallbackUrls.Select(url => (object)new SendDsrCallback(url, body));
    }
}

public static class SendDsrCallbackHandler
{
    public static async Task Handle(SendDsrCallback callback, DsrSigner signer, IHttpClientFactory clients, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, callback.Url) { Content = new StringContent(callback.Body, Encoding.UTF8, "application/json") };
        request.Headers.Add("X-OpenDSR-Processor-Domain", DsrProblems.ProcessorDomain);
        request.Headers.Add("X-OpenDSR-Signature", signer.Sign(callback.Body));
        HttpResponseMessage response;
        try { response = await clients.CreateClient(nameof(WebhookSender)).SendAsync(request, ct); }
        catch (HttpRequestException ex) when (OutboundAddresses.RefusalOf(ex) is { } refused)
        {
            throw new DeliveryRejectedException($"DSR callback not sent: {refused.Message}");
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            throw new DeliveryFailedException($"DSR callback not delivered: {ex.GetType().Name}");
        }
        using (response)
        {
            if ((int)response.StatusCode is >= 300 and < 400)
                throw new DeliveryRejectedException($"DSR callback answered {(int)response.StatusCode}; redirects are not followed");
            if (!response.IsSuccessStatusCode) throw new DeliveryFailedException($"DSR callback answered {(int)response.StatusCode}");
        }
    }
}
