using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace EventProfiles.Commands.Ingestion;

/// <summary>
/// The <see cref="JsonElement"/> values of a typed <c>Batch</c> (attribute values, <c>new</c>/<c>old</c>, commerce
/// objects, unmodelled fields) taken from the one document the request body was parsed into, instead of the serializer's
/// default of a new <see cref="JsonDocument"/> (and a copy of the value's bytes) per value: that was ~30 documents per
/// batch of 5 events, 11 % of the Host's allocations per <c>/v2/events</c> request. The elements are the same bytes as
/// sent, so values, kinds and what is forwarded are unchanged; like the batch's other elements they live as long as the
/// request's document. An element's owner may still <see cref="JsonElement.Clone"/> it to keep it apart from the body.
/// </summary>
internal sealed class BatchElements : JsonConverter<JsonElement>
{
    [ThreadStatic] private static Walk? _current;

    /// <summary>Deserializes <paramref name="batch"/>'s raw bytes, its JsonElement values taken from <paramref name="batch"/>'s document.</summary>
    public static T? Deserialize<T>(JsonElement batch, JsonSerializerOptions options)
    {
        var walk = _current ??= new Walk();
        walk.Start(batch);
        try
        {
            return JsonSerializer.Deserialize<T>(JsonMarshal.GetRawUtf8Value(batch), options);
        }
        finally
        {
            walk.Stop();
        }
    }

    public override JsonElement Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        // The reader reads the batch's raw bytes, so its token offset is the value's offset in the batch.
        if (_current is { Active: true } walk && walk.Find(checked((int)reader.TokenStartIndex)) is { } element)
        {
            reader.Skip();
            return element;
        }
        return JsonElement.ParseValue(ref reader); // not reading a batch (or not found): the serializer's own way
    }

    public override void Write(Utf8JsonWriter writer, JsonElement value, JsonSerializerOptions options) => value.WriteTo(writer);

    /// <summary>
    /// Finds elements of one batch by their byte offset. The serializer asks for values in document order, so the walk
    /// goes forward through the tree once per batch, skipping whole subtrees that end before the value asked for; asked
    /// out of order, it starts again from the root.
    /// </summary>
    private sealed class Walk
    {
        private JsonElement _root;
        private readonly List<Frame> _frames = [];
        public bool Active { get; private set; }

        public void Start(JsonElement root)
        {
            _root = root;
            _frames.Clear();
            Active = true;
        }

        public void Stop()
        {
            _root = default;
            _frames.Clear(); // frames hold elements of the request's document: nothing kept after the batch
            Active = false;
        }

        public JsonElement? Find(int target)
        {
            if (target == 0) return _root;
            for (var attempt = 0; attempt < 2; attempt++)
            {
                if (attempt == 1) _frames.Clear();
                if (_frames.Count == 0)
                {
                    if (_root.ValueKind is not (JsonValueKind.Object or JsonValueKind.Array)) return null;
                    _frames.Add(new Frame(_root));
                }
                if (Advance(target) is { } found) return found;
            }
            return null;
        }

        private JsonElement? Advance(int target)
        {
            while (_frames.Count > 0)
            {
                ref var top = ref CollectionsMarshal.AsSpan(_frames)[^1];
                if (!top.MoveNext(out var child))
                {
                    _frames.RemoveAt(_frames.Count - 1);
                    continue;
                }
                var (start, length) = RangeOf(child);
                if (start + length <= target) continue; // ends before the value asked for
                if (start == target) return child;
                if (start > target) return null;        // passed it: asked out of order
                if (child.ValueKind is JsonValueKind.Object or JsonValueKind.Array) _frames.Add(new Frame(child));
                else return null;
            }
            return null;
        }

        private (int Start, int Length) RangeOf(JsonElement element)
        {
            var root = JsonMarshal.GetRawUtf8Value(_root);
            var raw = JsonMarshal.GetRawUtf8Value(element);
            return ((int)Unsafe.ByteOffset(ref MemoryMarshal.GetReference(root), ref MemoryMarshal.GetReference(raw)), raw.Length);
        }
    }

    /// <summary>A container being walked: its enumerator, positioned on the child last looked at.</summary>
    private struct Frame(JsonElement container)
    {
        private readonly bool _isArray = container.ValueKind == JsonValueKind.Array;
        private JsonElement.ArrayEnumerator _items = container.ValueKind == JsonValueKind.Array ? container.EnumerateArray() : default;
        private JsonElement.ObjectEnumerator _properties = container.ValueKind == JsonValueKind.Object ? container.EnumerateObject() : default;

        public bool MoveNext(out JsonElement child)
        {
            if (_isArray)
            {
                var more = _items.MoveNext();
                child = more ? _items.Current : default;
                return more;
            }
            var next = _properties.MoveNext();
            child = next ? _properties.Current.Value : default;
            return next;
        }
    }
}
