using System.Text.Json.Nodes;
using MlpKit.Checkpoints;

namespace MlpKit.Embeddings;

/// <summary>How token states become one sentence vector.</summary>
public enum PoolingMode { Mean, Cls, Max }

/// <summary>
/// A sentence encoder's pooling, as sentence-transformers stores it beside the model: modules.json lists the
/// modules (Transformer, Pooling in `1_Pooling/`, optionally Normalize), `1_Pooling/config.json` says which
/// pooling, sentence_bert_config.json the maximum sequence length. MlpKit reads these files and writes them
/// into every checkpoint it produces from such a model, so sentence-transformers (and MlpKit) load the
/// result as the same kind of sentence encoder.
/// </summary>
public sealed record SentencePooling(PoolingMode Mode, bool Normalize, int MaxSeqLength)
{
    public const string ModulesFile = "modules.json";
    public const string PoolingFile = "1_Pooling/config.json";
    public const string SentenceConfigFile = "sentence_bert_config.json";

    /// <summary>The files that carry it, relative to the model folder.</summary>
    public static readonly string[] Files = [ModulesFile, PoolingFile, SentenceConfigFile];

    public static PoolingMode ParseMode(string text, string field) => text.ToLowerInvariant() switch
    {
        "mean" => PoolingMode.Mean,
        "cls" => PoolingMode.Cls,
        "max" => PoolingMode.Max,
        _ => throw new MlpKitException($"{field} {text}: unknown pooling (mean, cls or max)"),
    };

    /// <summary>The pooling a sentence-transformers folder declares, or null when it has no modules.json.</summary>
    public static SentencePooling? TryLoad(string modelDir)
    {
        var modulesPath = Path.Combine(modelDir, ModulesFile);
        if (!File.Exists(modulesPath)) return null;
        JsonArray modules;
        try
        {
            modules = JsonNode.Parse(File.ReadAllBytes(modulesPath)) as JsonArray
                      ?? throw MlpKitException.Field(modulesPath, "(root)", "expected a JSON array of modules");
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new MlpKitException($"{modulesPath}: malformed JSON: {e.Message}", e);
        }
        string Type(JsonNode? m) => m?["type"]?.GetValue<string>() ?? "";
        var pooling = modules.FirstOrDefault(m => Type(m).EndsWith(".Pooling", StringComparison.Ordinal))
                      ?? throw MlpKitException.Field(modulesPath, "type", "no sentence_transformers.models.Pooling module");
        var poolingDir = pooling["path"]?.GetValue<string>() ?? "1_Pooling";
        var configPath = Path.Combine(modelDir, poolingDir, "config.json");
        var config = JsonFile.ReadObject(configPath);
        bool Flag(string f) => config[f] is JsonValue v && v.TryGetValue<bool>(out var b) && b;
        var mode = Flag("pooling_mode_cls_token") ? PoolingMode.Cls
            : Flag("pooling_mode_mean_tokens") ? PoolingMode.Mean
            : Flag("pooling_mode_max_tokens") ? PoolingMode.Max
            : throw MlpKitException.Field(configPath, "pooling_mode_*", "no supported pooling mode is set (cls, mean or max tokens)");
        bool normalize = modules.Any(m => Type(m).EndsWith(".Normalize", StringComparison.Ordinal));
        int maxLength = 512;
        var sbert = Path.Combine(modelDir, SentenceConfigFile);
        if (File.Exists(sbert) && JsonFile.ReadObject(sbert)["max_seq_length"] is JsonValue len && len.TryGetValue<int>(out var l) && l > 0)
            maxLength = l;
        return new SentencePooling(mode, normalize, maxLength);
    }

    /// <summary>Writes the sentence-transformers files for a Transformer → Pooling (→ Normalize) encoder.</summary>
    public void Write(string modelDir, long dimension)
    {
        var modules = new JsonArray(
            Module(0, "", "sentence_transformers.models.Transformer"),
            Module(1, "1_Pooling", "sentence_transformers.models.Pooling"));
        if (Normalize) modules.Add(Module(2, "2_Normalize", "sentence_transformers.models.Normalize"));
        AtomicFile.WriteAllText(Path.Combine(modelDir, ModulesFile), JsonFile.ToStableString(modules));
        var pooling = new JsonObject
        {
            ["word_embedding_dimension"] = dimension,
            ["pooling_mode_cls_token"] = Mode == PoolingMode.Cls,
            ["pooling_mode_mean_tokens"] = Mode == PoolingMode.Mean,
            ["pooling_mode_max_tokens"] = Mode == PoolingMode.Max,
            ["pooling_mode_mean_sqrt_len_tokens"] = false,
        };
        AtomicFile.WriteAllText(Path.Combine(modelDir, PoolingFile), JsonFile.ToStableString(pooling));
        AtomicFile.WriteAllText(Path.Combine(modelDir, SentenceConfigFile),
            JsonFile.ToStableString(new JsonObject { ["max_seq_length"] = MaxSeqLength, ["do_lower_case"] = false }));
    }

    static JsonObject Module(int idx, string path, string type) =>
        new() { ["idx"] = idx, ["name"] = idx.ToString(), ["path"] = path, ["type"] = type };
}
