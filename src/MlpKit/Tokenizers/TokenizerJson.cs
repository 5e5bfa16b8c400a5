using System.Text.Json.Nodes;

namespace MlpKit.Tokenizers;

/// <summary>
/// Writes Hugging Face tokenizer.json files equivalent to the slow-tokenizer files MlpKit already reads, the
/// way transformers' converters (convert_slow_tokenizer.py) build them: BERT WordPiece from vocab.txt, GPT-2
/// byte-level BPE from vocab.json + merges.txt. A model folder then works with any tokenizer.json consumer.
/// </summary>
public static class TokenizerJson
{
    public static JsonObject BertWordPiece(IReadOnlyList<string> vocab, bool lowerCase)
    {
        var ids = new JsonObject();
        for (int i = 0; i < vocab.Count; i++) ids[vocab[i]] = i;
        int Id(string t) => vocab.ToList().IndexOf(t) is int i and >= 0 ? i : throw new MlpKitException($"vocab.txt: {t}: special token missing from the vocabulary");
        int cls = Id("[CLS]"), sep = Id("[SEP]");
        var added = new JsonArray(new[] { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" }.Select(t => (JsonNode)AddedToken(Id(t), t)).ToArray());
        JsonObject Special(string id, int typeId) => new() { ["SpecialToken"] = new JsonObject { ["id"] = id, ["type_id"] = typeId } };
        JsonObject Sequence(string id, int typeId) => new() { ["Sequence"] = new JsonObject { ["id"] = id, ["type_id"] = typeId } };
        return new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = added,
            ["normalizer"] = new JsonObject { ["type"] = "BertNormalizer", ["clean_text"] = true, ["handle_chinese_chars"] = true, ["strip_accents"] = null, ["lowercase"] = lowerCase },
            ["pre_tokenizer"] = new JsonObject { ["type"] = "BertPreTokenizer" },
            ["post_processor"] = new JsonObject
            {
                ["type"] = "TemplateProcessing",
                ["single"] = new JsonArray(Special("[CLS]", 0), Sequence("A", 0), Special("[SEP]", 0)),
                ["pair"] = new JsonArray(Special("[CLS]", 0), Sequence("A", 0), Special("[SEP]", 0), Sequence("B", 1), Special("[SEP]", 1)),
                ["special_tokens"] = new JsonObject
                {
                    ["[CLS]"] = new JsonObject { ["id"] = "[CLS]", ["ids"] = new JsonArray(cls), ["tokens"] = new JsonArray("[CLS]") },
                    ["[SEP]"] = new JsonObject { ["id"] = "[SEP]", ["ids"] = new JsonArray(sep), ["tokens"] = new JsonArray("[SEP]") },
                },
            },
            ["decoder"] = new JsonObject { ["type"] = "WordPiece", ["prefix"] = "##", ["cleanup"] = true },
            ["model"] = new JsonObject
            {
                ["type"] = "WordPiece", ["unk_token"] = "[UNK]", ["continuing_subword_prefix"] = "##", ["max_input_chars_per_word"] = 100, ["vocab"] = ids,
            },
        };
    }

    /// <param name="vocab">vocab.json's token → id map.</param>
    /// <param name="merges">merges.txt's lines ("a b"), without the "#version" header.</param>
    public static JsonObject Gpt2ByteLevel(IReadOnlyDictionary<string, int> vocab, IEnumerable<string> merges)
    {
        var ids = new JsonObject();
        foreach (var (t, i) in vocab.OrderBy(kv => kv.Value)) ids[t] = i;
        JsonObject ByteLevel(bool prefixSpace, bool trim) => new()
        {
            ["type"] = "ByteLevel", ["add_prefix_space"] = prefixSpace, ["trim_offsets"] = trim, ["use_regex"] = true,
        };
        var eot = vocab.TryGetValue("<|endoftext|>", out var e) ? e : vocab.Values.Max();
        return new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = new JsonArray(AddedToken(eot, "<|endoftext|>")),
            ["normalizer"] = null,
            ["pre_tokenizer"] = ByteLevel(false, true),
            ["post_processor"] = ByteLevel(true, false),
            ["decoder"] = ByteLevel(true, true),
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = null, ["continuing_subword_prefix"] = "", ["end_of_word_suffix"] = "",
                ["fuse_unk"] = false, ["byte_fallback"] = false, ["vocab"] = ids,
                ["merges"] = new JsonArray(merges.Where(m => m.Length > 0 && !m.StartsWith("#version", StringComparison.Ordinal)).Select(m => (JsonNode)m).ToArray()),
            },
        };
    }

    static JsonObject AddedToken(int id, string content) => new()
    {
        ["id"] = id, ["content"] = content, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = false, ["special"] = true,
    };
}
