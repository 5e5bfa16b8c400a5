using System.Buffers.Binary;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;
using TorchSharp;
using static TorchSharp.torch;

namespace MlpKit.Checkpoints;

/// <summary>
/// Reader and writer for the safetensors format: an 8-byte little-endian header length N, N bytes of UTF-8
/// JSON <c>{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}</c>, then the
/// byte buffer the offsets point into. Tensors load on the CPU in the dtype they are stored in.
/// </summary>
public static class SafeTensors
{
    /// <summary>Same cap as the reference implementation: a larger header is a corrupt or hostile file.</summary>
    internal const long MaxHeaderBytes = 100_000_000;

    internal const string MetadataKey = "__metadata__";

    /// <summary>One tensor's header entry; offsets are relative to the start of the data section.</summary>
    internal sealed record Entry(string Name, string DType, ScalarType Type, int ElementSize, long[] Shape, long Begin, long End)
    {
        public TensorInfo Info => new(Name, DType, Type, Shape, End - Begin);
    }

    internal sealed record Header(string Path, long DataStart, long DataLength, List<Entry> Entries, Dictionary<string, string> Metadata);

    /// <summary>
    /// Loads every tensor. Each tensor's bytes are read from the file straight into its own storage, so a
    /// checkpoint is copied once, not staged through a managed buffer. Tensors join the caller's dispose
    /// scope if one is open.
    /// </summary>
    public static Dictionary<string, Tensor> Load(string path) => Load(path, check: null);

    /// <summary>Loads after <paramref name="check"/> has seen the validated header, before any data is read.</summary>
    internal static Dictionary<string, Tensor> Load(string path, Action<Header>? check)
    {
        EnsureLittleEndianHost();
        Runtime.TorchRuntime.EnsureInitialized();
        using var handle = OpenRead(path);
        var header = ReadHeader(handle, path);
        check?.Invoke(header);
        var result = new Dictionary<string, Tensor>(header.Entries.Count, StringComparer.Ordinal);
        try
        {
            // Reading in file order keeps the disk access sequential.
            foreach (var e in header.Entries.OrderBy(e => e.Begin))
            {
                var t = empty(e.Shape, e.Type, CPU);
                result.Add(e.Name, t);
                ReadInto(handle, path, header.DataStart + e.Begin, t);
                if (e.Type == ScalarType.Bool) CheckBool(path, e, t);
            }
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
        // Hand back the names in header order, which is what a user sees when inspecting the file.
        var ordered = new Dictionary<string, Tensor>(result.Count, StringComparer.Ordinal);
        foreach (var e in header.Entries) ordered.Add(e.Name, result[e.Name]);
        return ordered;
    }

    /// <summary>The file's <c>__metadata__</c> map, empty when the file has none. Reads only the header.</summary>
    public static IReadOnlyDictionary<string, string> LoadMetadata(string path)
    {
        using var handle = OpenRead(path);
        return ReadHeader(handle, path).Metadata;
    }

    /// <summary>
    /// Names, dtypes and shapes in header order, without reading the tensor data (the header is fully
    /// validated): enough to count parameters or check a checkpoint against a model.
    /// </summary>
    public static IReadOnlyList<TensorInfo> Inspect(string path)
    {
        using var handle = OpenRead(path);
        return ReadHeader(handle, path).Entries.Select(e => e.Info).ToList();
    }

    /// <summary>
    /// Writes the tensors atomically. Header keys are sorted by name. The data is laid out by element size
    /// (largest first), then by name, as the reference implementation does: with the data section starting
    /// 8-byte aligned, every tensor is then aligned to its element size, so readers that map the file can
    /// view the data in place.
    /// </summary>
    public static void Save(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        EnsureLittleEndianHost();
        Runtime.TorchRuntime.EnsureInitialized();

        var plan = new List<Planned>(tensors.Count);
        foreach (var (name, t) in tensors)
        {
            if (string.IsNullOrEmpty(name))
                throw new MlpKitException($"{path}: a tensor has an empty name");
            if (name == MetadataKey)
                throw new MlpKitException($"{path}: tensor '{name}': the name is reserved for the metadata block");
            if (t is null)
                throw new MlpKitException($"{path}: tensor '{name}': is null");
            if (!SafeTensorsDType.TryFromType(t.dtype, out var dtype, out var size))
                throw new MlpKitException($"{path}: tensor '{name}': dtype {t.dtype} cannot be stored (supported: {SafeTensorsDType.Supported})");
            var shape = t.shape;
            plan.Add(new Planned(name, dtype, size, shape, Numel(shape) * size, t));
        }
        plan.Sort((a, b) => a.Size != b.Size ? b.Size.CompareTo(a.Size) : string.CompareOrdinal(a.Name, b.Name));
        long offset = 0;
        foreach (var p in plan)
        {
            p.Begin = offset;
            offset += p.Bytes;
        }

        var headerJson = BuildHeaderJson(path, plan, metadata);
        AtomicFile.Write(path, stream =>
        {
            Span<byte> prefix = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(prefix, headerJson.Length);
            stream.Write(prefix);
            stream.Write(headerJson);
            foreach (var p in plan) WriteTensorBytes(stream, p.Source, p.Bytes);
        });
    }

    sealed record Planned(string Name, string DType, int Size, long[] Shape, long Bytes, Tensor Source)
    {
        public long Begin { get; set; }
    }

    /// <summary>Compact JSON, metadata first, then tensors by name, padded with spaces to a multiple of 8 bytes.</summary>
    static byte[] BuildHeaderJson(string path, List<Planned> plan, IReadOnlyDictionary<string, string>? metadata)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject(MetadataKey);
                foreach (var (k, v) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                    w.WriteString(k, v ?? throw new MlpKitException($"{path}: {MetadataKey}: '{k}': value is null"));
                w.WriteEndObject();
            }
            foreach (var p in plan.OrderBy(p => p.Name, StringComparer.Ordinal))
            {
                w.WriteStartObject(p.Name);
                w.WriteString("dtype", p.DType);
                w.WriteStartArray("shape");
                foreach (var d in p.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(p.Begin);
                w.WriteNumberValue(p.Begin + p.Bytes);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        var len = (int)ms.Length;
        var padded = (len + 7) / 8 * 8;
        var buf = new byte[padded];
        ms.GetBuffer().AsSpan(0, len).CopyTo(buf);
        buf.AsSpan(len).Fill((byte)' ');
        return buf;
    }

    static void WriteTensorBytes(Stream stream, Tensor source, long bytes)
    {
        if (bytes == 0) return;
        // detach/cpu/contiguous each hand back a new handle (or the same one); dispose only what we made.
        var detached = source.detach();
        var onCpu = detached.device_type == DeviceType.CPU ? detached : detached.cpu();
        if (!ReferenceEquals(onCpu, detached)) detached.Dispose();
        var contiguous = onCpu.contiguous();
        if (!ReferenceEquals(contiguous, onCpu)) onCpu.Dispose();
        try
        {
            ForEachChunk(contiguous, (span, _) => stream.Write(span));
        }
        finally
        {
            contiguous.Dispose();
        }
    }

    static void ReadInto(SafeFileHandle handle, string path, long fileOffset, Tensor t)
    {
        ForEachChunk(t, (span, at) =>
        {
            var done = 0;
            while (done < span.Length)
            {
                int n;
                try { n = RandomAccess.Read(handle, span[done..], fileOffset + at + done); }
                catch (IOException e) { throw new MlpKitException($"{path}: read failed: {e.Message}", e); }
                if (n == 0) throw new MlpKitException($"{path}: truncated: the file ended while reading tensor data at byte {fileOffset + at + done}");
                done += n;
            }
        });
    }

    static void CheckBool(string path, Entry e, Tensor t)
    {
        ForEachChunk(t, (span, at) =>
        {
            var bad = span.IndexOfAnyExcept((byte)0, (byte)1);
            if (bad >= 0)
                throw new MlpKitException($"{path}: tensor '{e.Name}': BOOL element {at + bad} has byte value {span[bad]}, expected 0 or 1");
        });
    }

    internal delegate void ChunkAction(Span<byte> chunk, long byteOffset);

    [ThreadStatic] static int t_chunkBytes;

    /// <summary>
    /// Largest span handed out at once. Per thread, so a test can lower it to exercise the multi-chunk
    /// path without touching loads running on other threads.
    /// </summary>
    internal static int ChunkBytes
    {
        get => t_chunkBytes > 0 ? t_chunkBytes : 1 << 30;
        set => t_chunkBytes = value;
    }

    /// <summary>
    /// The raw storage of a contiguous CPU tensor as spans over its own memory (no copy). Spans are
    /// int-sized, so a tensor over <see cref="ChunkBytes"/> is visited through flat views of whole elements.
    /// </summary>
    internal static void ForEachChunk(Tensor t, ChunkAction action)
    {
        var elementSize = (long)t.ElementSize;
        var total = t.numel() * elementSize;
        if (total == 0) return;
        if (total <= ChunkBytes)
        {
            action(t.bytes, 0);
            return;
        }
        using var flat = t.reshape(-1);
        var perChunk = Math.Max(1, ChunkBytes / elementSize);
        var numel = flat.shape[0];
        for (long start = 0; start < numel; start += perChunk)
        {
            using var part = flat.narrow(0, start, Math.Min(perChunk, numel - start));
            action(part.bytes, start * elementSize);
        }
    }

    internal static SafeFileHandle OpenRead(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        try
        {
            return File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new MlpKitException($"{path}: file not found");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new MlpKitException($"{path}: cannot read: {e.Message}", e);
        }
    }

    static Header ReadHeader(SafeFileHandle handle, string path)
    {
        var fileLength = RandomAccess.GetLength(handle);
        if (fileLength < 8)
            throw new MlpKitException($"{path}: truncated: {fileLength} bytes, too short for the 8-byte header length");
        Span<byte> prefix = stackalloc byte[8];
        ReadExactly(handle, path, prefix, 0);
        var n = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (n > (ulong)(fileLength - 8))
            throw new MlpKitException($"{path}: header length {n} exceeds the {fileLength - 8} bytes after the length prefix (truncated or not a safetensors file)");
        if (n > MaxHeaderBytes)
            throw new MlpKitException($"{path}: header length {n} exceeds the {MaxHeaderBytes}-byte limit");
        if (n < 2)
            throw new MlpKitException($"{path}: header length {n} is too short for a JSON object");
        var json = new byte[(int)n];
        ReadExactly(handle, path, json, 8);
        var dataStart = 8 + (long)n;
        return ParseHeader(path, json, dataStart, fileLength - dataStart);
    }

    static void ReadExactly(SafeFileHandle handle, string path, Span<byte> buffer, long offset)
    {
        var done = 0;
        while (done < buffer.Length)
        {
            var r = RandomAccess.Read(handle, buffer[done..], offset + done);
            if (r == 0) throw new MlpKitException($"{path}: truncated: the file ended at byte {offset + done}");
            done += r;
        }
    }

    internal static Header ParseHeader(string path, byte[] json, long dataStart, long dataLength)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            var where = e.LineNumber is { } line ? $" at line {line + 1}, position {e.BytePositionInLine + 1}" : "";
            throw new MlpKitException($"{path}: header: malformed JSON{where}: {FirstSentence(e.Message)}", e);
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new MlpKitException($"{path}: header: expected a JSON object, got {root.ValueKind}");

            var entries = new List<Entry>();
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var prop in root.EnumerateObject())
            {
                if (!seen.Add(prop.Name))
                    throw new MlpKitException($"{path}: tensor '{prop.Name}': appears twice in the header");
                if (prop.Name == MetadataKey)
                {
                    ParseMetadata(path, prop.Value, metadata);
                    continue;
                }
                entries.Add(ParseEntry(path, prop.Name, prop.Value, dataLength));
            }
            CheckCoverage(path, entries, dataLength);
            return new Header(path, dataStart, dataLength, entries, metadata);
        }
    }

    static void ParseMetadata(string path, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind == JsonValueKind.Null) return;
        if (value.ValueKind != JsonValueKind.Object)
            throw new MlpKitException($"{path}: {MetadataKey}: expected an object of strings, got {value.ValueKind}");
        foreach (var kv in value.EnumerateObject())
        {
            if (kv.Value.ValueKind != JsonValueKind.String)
                throw new MlpKitException($"{path}: {MetadataKey}: '{kv.Name}': expected a string, got {kv.Value.GetRawText()}");
            if (!metadata.TryAdd(kv.Name, kv.Value.GetString()!))
                throw new MlpKitException($"{path}: {MetadataKey}: '{kv.Name}': appears twice");
        }
    }

    static Entry ParseEntry(string path, string name, JsonElement value, long dataLength)
    {
        string Where() => $"{path}: tensor '{name}'";
        if (value.ValueKind != JsonValueKind.Object)
            throw new MlpKitException($"{Where()}: expected an object with dtype, shape and data_offsets, got {value.GetRawText()}");

        if (!value.TryGetProperty("dtype", out var dtypeEl))
            throw new MlpKitException($"{Where()}: dtype: missing");
        if (dtypeEl.ValueKind != JsonValueKind.String)
            throw new MlpKitException($"{Where()}: dtype: expected a string, got {dtypeEl.GetRawText()}");
        var dtype = dtypeEl.GetString()!;
        if (!SafeTensorsDType.TryFromName(dtype, out var type, out var size))
        {
            var why = SafeTensorsDType.IsKnownUnsupported(dtype) ? "is not supported" : "is unknown";
            throw new MlpKitException($"{Where()}: dtype '{dtype}' {why} (supported: {SafeTensorsDType.Supported})");
        }

        if (!value.TryGetProperty("shape", out var shapeEl))
            throw new MlpKitException($"{Where()}: shape: missing");
        if (shapeEl.ValueKind != JsonValueKind.Array)
            throw new MlpKitException($"{Where()}: shape: expected an array of non-negative integers, got {shapeEl.GetRawText()}");
        var shape = new long[shapeEl.GetArrayLength()];
        var i = 0;
        foreach (var d in shapeEl.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out var v) || v < 0)
                throw new MlpKitException($"{Where()}: shape: expected an array of non-negative integers, got {shapeEl.GetRawText()}");
            shape[i++] = v;
        }

        if (!value.TryGetProperty("data_offsets", out var offEl))
            throw new MlpKitException($"{Where()}: data_offsets: missing");
        if (offEl.ValueKind != JsonValueKind.Array || offEl.GetArrayLength() != 2)
            throw new MlpKitException($"{Where()}: data_offsets: expected [begin, end], got {offEl.GetRawText()}");
        var begin = OffsetAt(offEl, 0);
        var end = OffsetAt(offEl, 1);
        if (begin is null || end is null || end < begin)
            throw new MlpKitException($"{Where()}: data_offsets: expected [begin, end] with 0 <= begin <= end, got {offEl.GetRawText()}");
        if (end > dataLength)
            throw new MlpKitException($"{Where()}: data_offsets [{begin}, {end}] exceed the data section ({dataLength} bytes)");

        long expected;
        try { expected = checked(Numel(shape) * size); }
        catch (OverflowException) { throw new MlpKitException($"{Where()}: shape [{string.Join(", ", shape)}] is too large"); }
        if (end - begin != expected)
            throw new MlpKitException($"{Where()}: data_offsets [{begin}, {end}] hold {end - begin} bytes, but {dtype} shape [{string.Join(", ", shape)}] needs {expected}");

        return new Entry(name, dtype, type, size, shape, begin.Value, end.Value);
    }

    static long? OffsetAt(JsonElement array, int index)
    {
        var el = array[index];
        return el.ValueKind == JsonValueKind.Number && el.TryGetInt64(out var v) && v >= 0 ? v : null;
    }

    /// <summary>The spec requires the tensors to tile the data section exactly: no overlap, no gap, no tail.</summary>
    static void CheckCoverage(string path, List<Entry> entries, long dataLength)
    {
        // Empty tensors occupy no bytes and may sit anywhere, so only byte-holding ones take part.
        var sorted = entries.Where(e => e.End > e.Begin).OrderBy(e => e.Begin).ThenBy(e => e.End).ToList();
        long cursor = 0;
        Entry? previous = null;
        foreach (var e in sorted)
        {
            if (e.Begin < cursor)
                throw new MlpKitException($"{path}: tensor '{e.Name}': data_offsets [{e.Begin}, {e.End}] overlap tensor '{previous!.Name}' [{previous.Begin}, {previous.End}]");
            if (e.Begin > cursor)
                throw new MlpKitException($"{path}: tensor '{e.Name}': data_offsets [{e.Begin}, {e.End}] leave bytes [{cursor}, {e.Begin}) of the data section unused");
            cursor = e.End;
            previous = e;
        }
        if (cursor != dataLength)
            throw new MlpKitException($"{path}: data section: bytes [{cursor}, {dataLength}) are not covered by any tensor (trailing or stray data)");
    }

    internal static long Numel(long[] shape)
    {
        long n = 1;
        foreach (var d in shape) n = checked(n * d);
        return n;
    }

    static string FirstSentence(string message)
    {
        // System.Text.Json appends its own (0-based) location; ours, 1-based, is already in the message.
        foreach (var marker in new[] { " Path:", " LineNumber:" })
        {
            var cut = message.IndexOf(marker, StringComparison.Ordinal);
            if (cut > 0) message = message[..cut];
        }
        return message.Trim();
    }

    static void EnsureLittleEndianHost()
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("safetensors data is little-endian; big-endian hosts are not supported");
    }
}
