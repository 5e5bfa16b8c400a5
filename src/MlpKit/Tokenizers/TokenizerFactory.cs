using System.Text.Json;

namespace MlpKit.Tokenizers;

/// <summary>
/// Finds and loads the tokenizer of a model directory by its files: tokenizer.json -> Hugging Face's own
/// tokenizers library (<see cref="HfJsonTokenizer"/>); vocab.json + merges.txt -> byte-level BPE (RoBERTa when config.json's model_type says "roberta", or, without
/// a config, when the vocabulary holds &lt;s&gt; and &lt;mask&gt;; otherwise GPT-2); vocab.txt -> BERT WordPiece
/// (lower-cased unless tokenizer_config.json sets do_lower_case to false); a vocab.json holding a JSON array
/// of [piece, score] (USE-Lite's SentencePiece vocabulary, in a checkpoint or as the asset's dist/vocab.json)
/// -> <see cref="SentencePieceTextTokenizer"/>. Other families plug in through <see cref="Register"/>; they are
/// tried first.
/// </summary>
public static class TokenizerFactory
{
    /// <summary>A loader for another tokenizer family: returns null when the directory is not its kind.</summary>
    public delegate ITextTokenizer? Loader(string modelDir);

    static readonly List<(string Name, Loader Load)> Extra = [];

    public static void Register(string name, Loader loader)
    {
        lock (Extra)
        {
            Extra.RemoveAll(e => e.Name == name);
            Extra.Add((name, loader));
        }
    }

    public static ITextTokenizer Load(string modelDir)
    {
        if (!Directory.Exists(modelDir)) throw new MlpKitException($"{modelDir}: model directory not found");
        (string Name, Loader Load)[] extra;
        lock (Extra) extra = Extra.ToArray();
        foreach (var (_, load) in extra)
            if (load(modelDir) is { } found) return found;

        // tokenizer.json first, as transformers' AutoTokenizer prefers the fast tokenizer.
        var tokenizerJson = Path.Combine(modelDir, HfJsonTokenizer.FileName);
        if (File.Exists(tokenizerJson)) return HfJsonTokenizer.Load(tokenizerJson);

        var vocabJson = Path.Combine(modelDir, "vocab.json");
        var merges = Path.Combine(modelDir, "merges.txt");
        foreach (var candidate in new[] { vocabJson, Path.Combine(modelDir, "dist", "vocab.json") })
            if (IsJsonArray(candidate) && !File.Exists(merges))
                return SentencePieceTextTokenizer.Load(candidate);
        var vocabTxt = Path.Combine(modelDir, "vocab.txt");
        if (File.Exists(vocabJson) && File.Exists(merges))
            return IsRoberta(modelDir, vocabJson)
                ? ByteLevelBpeTokenizer.LoadRoberta(vocabJson, merges)
                : ByteLevelBpeTokenizer.LoadGpt2(vocabJson, merges);
        if (File.Exists(vocabTxt))
            return WordPieceTextTokenizer.Load(vocabTxt, LowerCase(modelDir));
        throw new MlpKitException($"{modelDir}: no tokenizer files (expected vocab.json + merges.txt for GPT-2/RoBERTa BPE, vocab.txt for BERT WordPiece, or a SentencePiece vocab.json array for USE-Lite)");
    }

    /// <summary>The tokenizer of a model folder, or null when the folder holds no tokenizer files.</summary>
    public static ITextTokenizer? TryLoad(string modelDir)
    {
        string[] markers = ["vocab.txt", "vocab.json", "tokenizer.json", "dist/vocab.json"];
        return markers.Any(f => File.Exists(Path.Combine(modelDir, f))) ? Load(modelDir) : null;
    }

    static bool IsRoberta(string modelDir, string vocabJson)
    {
        if (ReadString(Path.Combine(modelDir, "config.json"), "model_type") is { } type)
            return type.Equals("roberta", StringComparison.OrdinalIgnoreCase) || type.Equals("xlm-roberta", StringComparison.OrdinalIgnoreCase);
        var vocab = ByteLevelBpeTokenizer.ReadVocab(vocabJson);
        return vocab.ContainsKey("<s>") && vocab.ContainsKey("<mask>");
    }

    /// <summary>True when the file exists and its first non-space byte opens a JSON array.</summary>
    static bool IsJsonArray(string file)
    {
        if (!File.Exists(file)) return false;
        using var stream = File.OpenRead(file);
        int b;
        while ((b = stream.ReadByte()) >= 0)
            if (!char.IsWhiteSpace((char)b) && b != 0xEF && b != 0xBB && b != 0xBF) return b == '[';
        return false;
    }

    static bool LowerCase(string modelDir)
    {
        var file = Path.Combine(modelDir, "tokenizer_config.json");
        if (!File.Exists(file)) return true;
        using var doc = ParseObject(file);
        return !(doc.RootElement.TryGetProperty("do_lower_case", out var v) && v.ValueKind == JsonValueKind.False);
    }

    static string? ReadString(string file, string field)
    {
        if (!File.Exists(file)) return null;
        using var doc = ParseObject(file);
        return doc.RootElement.TryGetProperty(field, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
    }

    static JsonDocument ParseObject(string file)
    {
        try
        {
            var doc = JsonDocument.Parse(File.ReadAllBytes(file));
            if (doc.RootElement.ValueKind == JsonValueKind.Object) return doc;
            doc.Dispose();
            throw MlpKitException.Field(file, "(root)", "expected a JSON object");
        }
        catch (JsonException e)
        {
            throw new MlpKitException($"{file}: malformed JSON: {e.Message}", e);
        }
    }
}
