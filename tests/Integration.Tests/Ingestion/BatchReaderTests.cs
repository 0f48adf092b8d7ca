using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
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

    // Every JsonElement the typed batch holds, in every place it can be (user and event attributes, flags, new/old,
    // commerce objects, the envelope's free fields, unmodelled fields at each level), with escapes, numbers as written,
    // nulls, arrays, nested objects and a repeated name.
    private const string Rich = """
        { "environment": "production", "schema_version": 2, "timestamp_unixtime_ms": 1796000000000.0,
          "application_info": { "application_name": "Shop", "version": [1, 2] }, "context": { "data_plan": { "plan_id": "p" } },
          "user_attributes": { "plan": "gold", "a": 1, "a": 2.50, "tag": null, "ok": true, "no": false, "list": ["x", "y\u00e9"],
                               "esc": "line\nbreak \"quoted\" \ud83d\ude00", "big": 12345678901234567890, "exp": 1e3 },
          "device_info": { "platform": "iOS", "screen": { "w": 390 } },
          "consent_state": { "gdpr": { "m": { "consented": true, "extra": [1] } } },
          "events": [
            { "event_type": "user_attribute_change", "extra_envelope": { "k": 1 },
              "data": { "user_attribute_name": "plan", "new": ["a", "b"], "old": null, "custom_flags": { "f": { "g": [true] } } } },
            { "event_type": "commerce_event",
              "data": { "product_action": { "action": "purchase", "products": [ { "id": "p1", "price": 9.990 } ] },
                        "promotion_action": [], "custom_attributes": { "price": "9.99", "n": -0.0, "u": "\u0041" }, "unknown": { "z": null } } }
          ],
          "free": [ { "nested": { "deep": [1, { "x": "y" }] } } ] }
        """;

    [Fact]
    public void every_json_value_of_a_batch_reads_as_the_serializer_alone_reads_it()
    {
        var bytes = Encoding.UTF8.GetBytes(Rich);
        var read = BatchReader.Parse(bytes, BodyShape.Single, truncate: true);

        read.Problem.ShouldBeNull();
        var plain = JsonSerializer.Deserialize<EventProfiles.Domain.Ingestion.Batch>(bytes)!;
        var batch = read.Batches.Single().Batch;
        JsonSerializer.Serialize(batch).ShouldBe(JsonSerializer.Serialize(plain));
        // The same bytes as sent, escapes and number spellings included (what is forwarded and stored).
        batch.UserAttributes!["esc"].GetRawText().ShouldBe(plain.UserAttributes!["esc"].GetRawText());
        batch.UserAttributes!["a"].GetRawText().ShouldBe("2.50"); // the last of a repeated name, as before
        batch.UserAttributes!["big"].GetRawText().ShouldBe("12345678901234567890");
        batch.UserAttributes!["tag"].ValueKind.ShouldBe(JsonValueKind.Null);
        batch.Events![0]!.Data!.Old.ShouldBeNull();
        batch.Events![1]!.Data!.CustomAttributes!["u"].GetRawText().ShouldBe("\"\\u0041\"");
        batch.Events![1]!.Data!.ProductAction!.Value.GetRawText().ShouldBe(plain.Events![1]!.Data!.ProductAction!.Value.GetRawText());
        batch.TimestampUnixtimeMs!.Value.GetRawText().ShouldBe("1796000000000.0");
    }

    [Fact]
    public async Task attribute_values_are_read_in_place_from_the_checked_body()
    {
        var bytes = Encoding.UTF8.GetBytes(Body);
        var read = await Read(new MemoryStream(bytes, 0, bytes.Length, writable: false, publiclyVisible: true));

        // No document (and no copy of the bytes) per value: each value is an element of the body the middleware read.
        var batch = read.Batches.Single().Batch;
        JsonElement[] values = [batch.UserAttributes!["$city"], batch.UserAttributes!["interests"], batch.Events![0]!.Data!.CustomAttributes!["page"], batch.Unmodelled!["unmodelled_field"]];
        foreach (var value in values)
            bytes.AsSpan().Overlaps(JsonMarshal.GetRawUtf8Value(value)).ShouldBeTrue(value.GetRawText());
        batch.UserAttributes!["$city"].GetString().ShouldBe("Zürich");
        batch.Events![0]!.Data!.CustomAttributes!["page"].GetString().ShouldBe("/ö/é");
    }
}
