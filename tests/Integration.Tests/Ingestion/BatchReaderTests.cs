using System.Text;
using EventProfiles.Commands.Ingestion;
using Microsoft.AspNetCore.Http;

namespace EventProfiles.Integration.Tests.Ingestion;

/// <summary>
/// The Events API parses the bytes RequestBodyMiddleware already read and checked, in place; a body that did not come
/// through it (read from the wire) must give exactly the same batch.
/// </summary>
public class BatchReaderTests
{
    private const string Body = """
        { "environment": "development", "source_request_id": "r-1",
          "user_identities": { "customer_id": "São-Paulo-東京" },
          "user_attributes": { "$city": "Zürich", "interests": ["ski", "jazz"], "ltv": 12.5 },
          "events": [
            { "event_type": "custom_event", "data": { "event_name": "Viewed", "custom_event_type": "navigation",
              "custom_attributes": { "page": "/ö/\u00e9" } } },
            { "event_type": "screen_view", "data": { "screen_name": "home" } }
          ],
          "unmodelled_field": { "kept": true } }
        """;

    private static Task<IngestRequest> Read(Stream body)
    {
        var context = new DefaultHttpContext();
        context.Request.Body = body;
        return BatchReader.ReadAsync(context.Request, BodyShape.Single, CancellationToken.None);
    }

    [Fact]
    public async Task a_checked_body_parses_the_same_as_one_read_from_the_wire()
    {
        var bytes = Encoding.UTF8.GetBytes(Body);
        var fromMiddleware = await Read(new MemoryStream(bytes, 0, bytes.Length, writable: false, publiclyVisible: true));
        var fromWire = await Read(new BufferedStream(new MemoryStream(bytes), 7)); // not a MemoryStream: read in chunks

        fromMiddleware.Problem.ShouldBeNull();
        fromWire.Problem.ShouldBeNull();
        var (a, b) = (fromMiddleware.Batches.Single(), fromWire.Batches.Single());
        a.Envelope.GetRawText().ShouldBe(b.Envelope.GetRawText());
        a.Envelope.TryGetProperty("events", out _).ShouldBeFalse();
        a.Envelope.GetProperty("unmodelled_field").GetRawText().ShouldBe("""{"kept":true}"""); // rewritten without the events
        a.EventData.Select(e => e.GetRawText()).ShouldBe(b.EventData.Select(e => e.GetRawText()));
        a.EventData[1].GetRawText().ShouldBe("""{ "screen_name": "home" }""");
        a.SizeInBytes.ShouldBe(b.SizeInBytes);
        a.Batch.UserIdentities!["customer_id"]!.Value.Text.ShouldBe("São-Paulo-東京");
        a.Batch.Events!.Count.ShouldBe(2);
    }

    [Fact]
    public async Task a_batch_is_measured_in_the_utf8_bytes_it_was_sent_in()
    {
        var bytes = Encoding.UTF8.GetBytes(Body);
        var read = await Read(new MemoryStream(bytes, 0, bytes.Length, writable: false, publiclyVisible: true));

        // The batch object itself, multi-byte characters counted in bytes (the 128 KB limit is in bytes).
        read.Batches.Single().SizeInBytes.ShouldBe(Encoding.UTF8.GetByteCount(Body.Trim()));
    }
}
