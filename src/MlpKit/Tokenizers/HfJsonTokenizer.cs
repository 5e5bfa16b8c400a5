using System.Text.Json.Nodes;
using MlpKit.Checkpoints;

namespace MlpKit.Tokenizers;

/// <summary>
/// A Hugging Face tokenizer.json, run by Hugging Face's own Rust `tokenizers` library (through Tokenizers.DotNet):
/// WordPiece, BPE (byte-level as GPT-2/Llama 3/Qwen2 write it, or SentencePiece-style), Unigram and WordLevel
/// models with whatever normalizer, pre-tokenizer and decoder the file declares. The file is validated here first
/// (JSON, model.type, post_processor) so a bad file is one line naming the field, not a native error.
/// Special tokens come from the file's post_processor (TemplateProcessing, BertProcessing, RobertaProcessing) and
/// its added_tokens; the roles (pad, bos, eos, cls, sep, unk, mask) from tokenizer_config.json beside it when
/// present, else from the usual token spellings.
/// </summary>
public sealed class HfJsonTokenizer : ITextTokenizer, IDisposable
{
    public const string FileName = "tokenizer.json";
    static readonly string[] Models = ["WordPiece", "BPE", "Unigram", "WordLevel"];

    readonly global::Tokenizers.DotNet.Tokenizer _native;
    readonly HashSet<int> _special;
    readonly int _prefix, _suffix;                 // specials the single-sequence template adds around the text
    readonly int[] _pairPrefix, _pairMiddle, _pairSuffix;
    readonly bool _secondSegmentType;

    HfJsonTokenizer(string path, JsonObject root)
    {
        Path = path;
        var model = root["model"] as JsonObject ?? throw MlpKitException.Field(path, "model", "missing (not a Hugging Face tokenizer.json)");
        var type = model["type"]?.GetValue<string>() ?? InferModelType(model)
                   ?? throw MlpKitException.Field(path, "model.type", "missing");
        if (!Models.Contains(type))
            throw MlpKitException.Field(path, "model.type", $"'{type}' is not supported (known: {string.Join(", ", Models)})");
        Kind = $"hf-{type.ToLowerInvariant()}";
        var added = (root["added_tokens"] as JsonArray ?? []).OfType<JsonObject>()
            .Select(t => (Id: t["id"]?.GetValue<int>() ?? throw MlpKitException.Field(path, "added_tokens.id", "missing"),
                Content: t["content"]?.GetValue<string>() ?? "", Special: t["special"]?.GetValue<bool>() ?? false)).ToList();
        int maxId = model["vocab"] switch
        {
            JsonObject v => v.Count == 0 ? -1 : v.Max(kv => kv.Value!.GetValue<int>()),
            JsonArray a => a.Count - 1,   // Unigram: [piece, score] pairs, id = index
            _ => throw MlpKitException.Field(path, "model.vocab", "missing or not an object/array"),
        };
        VocabSize = Math.Max(maxId, added.Count == 0 ? -1 : added.Max(t => t.Id)) + 1;
        var byContent = added.GroupBy(t => t.Content).ToDictionary(g => g.Key, g => g.First().Id);
        _special = added.Where(t => t.Special).Select(t => t.Id).ToHashSet();
        Special = Roles(path, byContent);

        (_prefix, _suffix, _pairPrefix, _pairMiddle, _pairSuffix, _secondSegmentType) = Template(path, root["post_processor"] as JsonObject, byContent);
        try
        {
            _native = new global::Tokenizers.DotNet.Tokenizer(path);
        }
        catch (Exception e) when (e is global::Tokenizers.DotNet.TokenizerException or DllNotFoundException or EntryPointNotFoundException)
        {
            throw new MlpKitException($"{path}: the tokenizers library cannot load it: {e.Message}", e);
        }
    }

    public string Path { get; }
    public string Kind { get; }
    public int VocabSize { get; }
    public SpecialTokenIds Special { get; }

    public static HfJsonTokenizer Load(string path)
    {
        if (!File.Exists(path)) throw new MlpKitException($"{path}: file not found");
        return new HfJsonTokenizer(path, JsonFile.ReadObject(path));
    }

    static string? InferModelType(JsonObject model) =>
        model.ContainsKey("merges") ? "BPE" : model.ContainsKey("continuing_subword_prefix") ? "WordPiece" : null;

    SpecialTokenIds Roles(string path, Dictionary<string, int> byContent)
    {
        var configured = new Dictionary<string, string>();
        var config = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(path)!, "tokenizer_config.json");
        if (File.Exists(config))
            foreach (var (key, value) in JsonFile.ReadObject(config))
            {
                var text = value switch
                {
                    JsonValue v when v.TryGetValue<string>(out var s) => s,
                    JsonObject o => o["content"]?.GetValue<string>(),   // AddedToken objects
                    _ => null,
                };
                if (text is not null && key.EndsWith("_token", StringComparison.Ordinal)) configured[key] = text;
            }
        int? Find(string role, params string[] spellings)
        {
            if (configured.TryGetValue(role + "_token", out var c) && byContent.TryGetValue(c, out var id)) return id;
            foreach (var s in spellings) if (byContent.TryGetValue(s, out var i)) return i;
            return null;
        }
        return new SpecialTokenIds(
            Pad: Find("pad", "[PAD]", "<pad>", "<|pad|>"),
            Bos: Find("bos", "<s>", "<|begin_of_text|>", "<|startoftext|>"),
            Eos: Find("eos", "</s>", "<|end_of_text|>", "<|endoftext|>", "<|eot_id|>", "<|im_end|>"),
            Cls: Find("cls", "[CLS]"),
            Sep: Find("sep", "[SEP]"),
            Unk: Find("unk", "[UNK]", "<unk>"),
            Mask: Find("mask", "[MASK]", "<mask>"));
    }

    /// <summary>The special tokens the post-processor adds: around one sequence, and around/between a pair.</summary>
    static (int, int, int[], int[], int[], bool) Template(string path, JsonObject? pp, Dictionary<string, int> byContent)
    {
        if (pp is null) return (0, 0, [], [], [], false);
        int IdOf(JsonNode? pair, string field) => pair is JsonArray { Count: 2 } a ? a[1]!.GetValue<int>()
            : throw MlpKitException.Field(path, $"post_processor.{field}", "expected [token, id]");
        var type = pp["type"]?.GetValue<string>() ?? "";
        switch (type)
        {
            case "BertProcessing":
            {
                int cls = IdOf(pp["cls"], "cls"), sep = IdOf(pp["sep"], "sep");
                return (1, 1, [cls], [sep], [sep], true);
            }
            case "RobertaProcessing":
            {
                int cls = IdOf(pp["cls"], "cls"), sep = IdOf(pp["sep"], "sep");
                return (1, 1, [cls], [sep, sep], [sep], false);
            }
            case "TemplateProcessing":
            {
                var specials = pp["special_tokens"] as JsonObject;
                int[] Ids(JsonNode? item)
                {
                    var name = item?["SpecialToken"]?["id"]?.GetValue<string>() ?? "";
                    var ids = specials?[name]?["ids"] as JsonArray;
                    if (ids is not null) return ids.Select(i => i!.GetValue<int>()).ToArray();
                    return byContent.TryGetValue(name, out var id) ? [id]
                        : throw MlpKitException.Field(path, "post_processor.special_tokens", $"template names '{name}', which is not defined");
                }
                List<int[]> Parts(string field, out bool secondType)
                {
                    var items = pp[field] as JsonArray ?? throw MlpKitException.Field(path, $"post_processor.{field}", "missing");
                    var parts = new List<int[]> { Array.Empty<int>() };
                    secondType = false;
                    foreach (var item in items)
                    {
                        if (item?["Sequence"] is JsonObject seq)
                        {
                            if (seq["id"]?.GetValue<string>() == "B") secondType = (seq["type_id"]?.GetValue<int>() ?? 0) != 0;
                            parts.Add([]);
                        }
                        else parts[^1] = [.. parts[^1], .. Ids(item)];
                    }
                    return parts;
                }
                var single = Parts("single", out _);
                if (single.Count != 2) throw MlpKitException.Field(path, "post_processor.single", "expected exactly one sequence ($A)");
                if (pp["pair"] is null) return (single[0].Length, single[1].Length, single[0], single[1], single[1], false);
                var pair = Parts("pair", out var typed);
                if (pair.Count != 3) throw MlpKitException.Field(path, "post_processor.pair", "expected two sequences ($A and $B)");
                return (single[0].Length, single[1].Length, pair[0], pair[1], pair[2], typed);
            }
            case "ByteLevel":
                return (0, 0, [], [], [], false);
            case "Sequence":
            {
                foreach (var p in pp["processors"] as JsonArray ?? [])
                    if (p is JsonObject o && o["type"]?.GetValue<string>() != "ByteLevel") return Template(path, o, byContent);
                return (0, 0, [], [], [], false);
            }
            default:
                throw MlpKitException.Field(path, "post_processor.type", $"'{type}' is not supported (TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel)");
        }
    }

    /// <summary>The ids with the post-processor's specials (the native library always adds them).</summary>
    int[] Full(string text)
    {
        var ids = _native.Encode(text);
        return Array.ConvertAll(ids, i => (int)i);
    }

    /// <summary>The text's own ids: <paramref name="full"/> without the specials the single-sequence template added.</summary>
    int[] Content(int[] full) => full.Length >= _prefix + _suffix ? full[_prefix..^_suffix] : full;

    public int[] Encode(string text) => Content(Full(text));

    public TokenizedInput EncodePair(string text, string? pair = null, int? maxLength = null)
    {
        var full = Full(text);
        var a = Content(full);
        if (pair is null)
            return PairBuilder.Build(a, null, full[.._prefix], [], [], full[^_suffix..], maxLength, typeIdsForSecondSegment: false);
        return PairBuilder.Build(a, Encode(pair), _pairPrefix, _pairMiddle, _pairSuffix, [], maxLength, _secondSegmentType);
    }

    public string Decode(IEnumerable<int> ids, bool skipSpecial = true)
    {
        var kept = ids.Where(id => !(skipSpecial && _special.Contains(id))).ToArray();
        foreach (var id in kept)
            if (id < 0 || id >= VocabSize) throw new MlpKitException($"token id {id} is outside the vocabulary (0..{VocabSize - 1})");
        return _native.Decode(Array.ConvertAll(kept, i => (uint)i));
    }

    public void Dispose() => _native.Dispose();
}
