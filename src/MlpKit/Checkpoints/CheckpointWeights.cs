using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using static TorchSharp.torch;

namespace MlpKit.Checkpoints;

/// <summary>
/// The weights of a model directory in the Hugging Face layout: one <c>model.safetensors</c>, or
/// <c>model.safetensors.index.json</c> (a <c>weight_map</c> from tensor name to shard file) plus shards
/// named <c>model-00001-of-00003.safetensors</c>.
/// </summary>
public static partial class CheckpointWeights
{
    public const string SingleFileName = "model.safetensors";
    public const string IndexFileName = "model.safetensors.index.json";

    [GeneratedRegex(@"^model-\d{5}-of-\d{5}\.safetensors$")]
    private static partial Regex ShardName();

    public static bool Exists(string dir) =>
        File.Exists(Path.Combine(dir, SingleFileName)) || File.Exists(Path.Combine(dir, IndexFileName))
        || File.Exists(Path.Combine(dir, PyTorchCheckpoint.FileName));

    /// <summary>The file a directory's weights are read from (for error messages): safetensors, its index, or pytorch_model.bin.</summary>
    public static string FileOf(string dir) =>
        new[] { SingleFileName, IndexFileName, PyTorchCheckpoint.FileName }.Select(f => Path.Combine(dir, f)).FirstOrDefault(File.Exists)
        ?? Path.Combine(dir, SingleFileName);

    /// <summary>
    /// Loads all tensors. Like the Hugging Face loader, a single <c>model.safetensors</c> wins over an index.
    /// A sharded checkpoint must agree with its index both ways: every tensor the index names is in the
    /// shard it names, and every tensor in a shard is named by the index for that shard.
    /// </summary>
    public static Dictionary<string, Tensor> Load(string dir)
    {
        var single = Path.Combine(dir, SingleFileName);
        if (File.Exists(single)) return SafeTensors.Load(single);
        // Only where no safetensors exist, as transformers does (safetensors first: no pickle at all).
        var bin = Path.Combine(dir, PyTorchCheckpoint.FileName);
        if (!File.Exists(Path.Combine(dir, IndexFileName)) && File.Exists(bin)) return PyTorchCheckpoint.Load(bin);
        var (indexPath, weightMap, byShard) = OpenIndex(dir);
        var result = new Dictionary<string, Tensor>(weightMap.Count, StringComparer.Ordinal);
        try
        {
            foreach (var (shard, names) in byShard.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                var loaded = SafeTensors.Load(Path.Combine(dir, shard), header => CheckShard(indexPath, weightMap, shard, names, header));
                foreach (var (name, t) in loaded) result.Add(name, t);
            }
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
        return result;
    }

    /// <summary>
    /// Names, dtypes and shapes of every tensor, without reading tensor data; a sharded checkpoint is
    /// checked against its index as <see cref="Load"/> does.
    /// </summary>
    public static IReadOnlyList<TensorInfo> Inspect(string dir)
    {
        var single = Path.Combine(dir, SingleFileName);
        if (File.Exists(single)) return SafeTensors.Inspect(single);
        var (indexPath, weightMap, byShard) = OpenIndex(dir);
        var result = new List<TensorInfo>(weightMap.Count);
        foreach (var (shard, names) in byShard.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            var infos = SafeTensors.Inspect(Path.Combine(dir, shard));
            var present = infos.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
            CheckShard(indexPath, weightMap, shard, names, present);
            result.AddRange(infos);
        }
        return result;
    }

    static (string IndexPath, Dictionary<string, string> WeightMap, Dictionary<string, HashSet<string>> ByShard) OpenIndex(string dir)
    {
        var indexPath = Path.Combine(dir, IndexFileName);
        if (!File.Exists(indexPath))
            throw new MlpKitException($"{dir}: no {SingleFileName}, {IndexFileName} or {PyTorchCheckpoint.FileName} found");
        var weightMap = ReadWeightMap(indexPath);
        var byShard = weightMap.GroupBy(kv => kv.Value, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Select(kv => kv.Key).ToHashSet(StringComparer.Ordinal), StringComparer.Ordinal);
        // Check every shard exists before reading any, so a missing shard fails fast.
        foreach (var (shard, names) in byShard)
            if (!File.Exists(Path.Combine(dir, shard)))
                throw new MlpKitException($"{indexPath}: weight_map: tensor '{names.Order(StringComparer.Ordinal).First()}': shard '{shard}' not found");
        return (indexPath, weightMap, byShard);
    }

    static void CheckShard(string indexPath, Dictionary<string, string> weightMap, string shard, HashSet<string> names, SafeTensors.Header header) =>
        CheckShard(indexPath, weightMap, shard, names, header.Entries.Select(e => e.Name).ToHashSet(StringComparer.Ordinal));

    /// <summary>The index and the shard must agree both ways.</summary>
    static void CheckShard(string indexPath, Dictionary<string, string> weightMap, string shard, HashSet<string> names, HashSet<string> present)
    {
        foreach (var name in present.Order(StringComparer.Ordinal))
            if (!names.Contains(name))
                throw new MlpKitException(weightMap.TryGetValue(name, out var other)
                    ? $"{indexPath}: weight_map: tensor '{name}': mapped to '{other}' but also stored in '{shard}'"
                    : $"{indexPath}: weight_map: tensor '{name}': stored in '{shard}' but not named by the index");
        foreach (var name in names.Order(StringComparer.Ordinal))
            if (!present.Contains(name))
                throw new MlpKitException($"{indexPath}: weight_map: tensor '{name}': not found in shard '{shard}'");
    }

    /// <summary>
    /// Saves the tensors: one file when they fit in <paramref name="maxShardBytes"/>, else Hugging Face
    /// style shards plus an index. Files of a previous save that the new one does not use are removed.
    /// Each file is written atomically; the set of files is not, so the order is chosen to keep the
    /// directory loadable after an interruption: the old single file goes first (it would shadow a new
    /// index), the index is written after all its shards, and stale shards go last.
    /// </summary>
    public static void Save(string dir, IReadOnlyDictionary<string, Tensor> tensors, long maxShardBytes = 2L << 30)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        if (maxShardBytes <= 0)
            throw new ArgumentOutOfRangeException(nameof(maxShardBytes), "must be positive");
        Directory.CreateDirectory(dir);
        var single = Path.Combine(dir, SingleFileName);
        var indexPath = Path.Combine(dir, IndexFileName);

        long total = 0;
        foreach (var (name, t) in tensors) total += TensorBytes(t);

        var previous = PreviousShards(dir);
        if (total <= maxShardBytes)
        {
            SafeTensors.Save(single, tensors);
            DeleteIfExists(indexPath);
            foreach (var stale in previous) DeleteIfExists(Path.Combine(dir, stale));
            return;
        }

        // Greedy in the caller's order, as Hugging Face does: a tensor starts a new shard when it would
        // overflow the current one; a tensor larger than the limit gets a shard of its own.
        var shards = new List<List<string>>();
        var current = new List<string>();
        long currentBytes = 0;
        foreach (var (name, t) in tensors)
        {
            var bytes = TensorBytes(t);
            if (current.Count > 0 && currentBytes + bytes > maxShardBytes)
            {
                shards.Add(current);
                current = [];
                currentBytes = 0;
            }
            current.Add(name);
            currentBytes += bytes;
        }
        if (current.Count > 0) shards.Add(current);
        if (shards.Count > 99999)
            throw new MlpKitException($"{dir}: {shards.Count} shards exceed the 5-digit shard naming; raise maxShardBytes");

        DeleteIfExists(single);
        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var written = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < shards.Count; i++)
        {
            var file = $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors";
            var part = shards[i].ToDictionary(n => n, n => tensors[n], StringComparer.Ordinal);
            SafeTensors.Save(Path.Combine(dir, file), part);
            foreach (var n in shards[i]) weightMap[n] = file;
            written.Add(file);
        }

        var index = new JsonObject
        {
            ["metadata"] = new JsonObject { ["total_size"] = total },
            ["weight_map"] = new JsonObject(weightMap.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)JsonValue.Create(kv.Value)))),
        };
        AtomicFile.WriteAllText(indexPath, index.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        foreach (var stale in previous)
            if (!written.Contains(stale)) DeleteIfExists(Path.Combine(dir, stale));
    }

    /// <summary>Reads and validates the index's weight_map: tensor name to shard file name.</summary>
    internal static Dictionary<string, string> ReadWeightMap(string indexPath)
    {
        var root = JsonFile.ReadObject(indexPath);
        if (!root.TryGetPropertyValue("weight_map", out var mapNode) || mapNode is null)
            throw MlpKitException.Field(indexPath, "weight_map", "missing");
        if (mapNode is not JsonObject map)
            throw MlpKitException.Field(indexPath, "weight_map", $"expected an object of tensor name -> shard file, got {mapNode.ToJsonString()}");
        var result = new Dictionary<string, string>(map.Count, StringComparer.Ordinal);
        foreach (var (name, fileNode) in map)
        {
            if (fileNode is not JsonValue v || !v.TryGetValue<string>(out var file) || file.Length == 0)
                throw MlpKitException.Field(indexPath, "weight_map", $"tensor '{name}': expected a shard file name, got {fileNode?.ToJsonString() ?? "null"}");
            // Shards live beside the index; a path that leaves the folder is a malformed (or hostile) index.
            if (Path.IsPathRooted(file) || file.Split('/', '\\').Any(p => p is ".." or ""))
                throw MlpKitException.Field(indexPath, "weight_map", $"tensor '{name}': shard '{file}' is not a file name inside the checkpoint folder");
            result.Add(name, file);
        }
        if (result.Count == 0)
            throw MlpKitException.Field(indexPath, "weight_map", "is empty");
        return result;
    }

    /// <summary>Shard files a previous save may have left: those the old index names plus any matching the shard pattern.</summary>
    static HashSet<string> PreviousShards(string dir)
    {
        var found = new HashSet<string>(StringComparer.Ordinal);
        foreach (var f in Directory.EnumerateFiles(dir, "model-*-of-*.safetensors"))
        {
            var name = Path.GetFileName(f);
            if (ShardName().IsMatch(name)) found.Add(name);
        }
        var indexPath = Path.Combine(dir, IndexFileName);
        if (File.Exists(indexPath))
        {
            try
            {
                foreach (var shard in ReadWeightMap(indexPath).Values) found.Add(shard);
            }
            catch (MlpKitException)
            {
                // A broken old index is about to be replaced; its pattern-named shards are already listed.
            }
        }
        return found;
    }

    static long TensorBytes(Tensor t) => t.numel() * t.ElementSize;

    static void DeleteIfExists(string path)
    {
        try
        {
            if (File.Exists(path)) File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new MlpKitException($"{path}: cannot remove a stale checkpoint file: {e.Message}", e);
        }
    }
}
