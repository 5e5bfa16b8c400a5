using System.Text;
using MlpKit.Assets;
using MlpKit.Tokenizers;

namespace MlpKit.Lm;

/// <summary>Turns a corpus into the id stream a language model trains on.</summary>
public interface ILmTokenizer
{
    string Name { get; }
    int VocabSize { get; }
    int[] Encode(string text);
    string Decode(IEnumerable<int> ids);
}

/// <summary>
/// The LM tokenisations by name: "byte" (UTF-8 bytes, 256 ids), "gpt2" (GPT-2 BPE from the gpt2-vocab asset) and
/// "bpe8k" / "bpe:N" (a byte-level BPE of N tokens learned on the run's training split, cached in the run folder).
/// </summary>
public static class LmTokenizers
{
    public static IReadOnlyList<string> Names { get; } = ["byte", "gpt2", "bpe8k", "bpe:N"];

    /// <summary>The run-folder subfolder holding a trained BPE's vocab.json + merges.txt.</summary>
    public const string TrainedBpeFolder = "tokenizer";

    public static bool IsKnown(string name) => name is "byte" or "gpt2" || TrainedBpeSize(name) is not null;

    /// <summary>Tokenizers that need no training data (byte, gpt2).</summary>
    public static ILmTokenizer Create(string name) => name switch
    {
        "byte" => new ByteLmTokenizer(),
        "gpt2" => Gpt2LmTokenizer.FromAsset(),
        _ when TrainedBpeSize(name) is not null => throw new MlpKitException($"--tokenizer {name}: a trained BPE needs a run folder and training text"),
        _ => throw Unknown(name),
    };

    /// <summary>
    /// Any tokenizer; a trained BPE is loaded from RUN/tokenizer/, or learned from <paramref name="trainText"/>
    /// and saved there first, so evaluation and resumed runs use the very same vocabulary.
    /// </summary>
    public static ILmTokenizer Create(string name, string runDir, Func<string> trainText, Action<string>? log = null)
    {
        if (TrainedBpeSize(name) is not { } size) return Create(name);
        var dir = Path.Combine(runDir, TrainedBpeFolder);
        string vocab = Path.Combine(dir, BpeTrainer.VocabFile), merges = Path.Combine(dir, BpeTrainer.MergesFile);
        if (!File.Exists(vocab) || !File.Exists(merges))
        {
            var text = trainText();
            var clock = System.Diagnostics.Stopwatch.StartNew();
            BpeTrainer.TrainToFolder(text, size, dir);
            log?.Invoke($"{name}: learned {size - 256} merges on {text.Length} chars in {clock.Elapsed.TotalSeconds:F1} s -> {dir}");
        }
        return new Gpt2LmTokenizer(ByteLevelBpeTokenizer.LoadGpt2(vocab, merges), name);
    }

    /// <summary>The vocabulary size of "bpe8k" (8192) or "bpe:N"; null for other names.</summary>
    public static int? TrainedBpeSize(string name)
    {
        if (name == "bpe8k") return 8192;
        if (!name.StartsWith("bpe:", StringComparison.Ordinal)) return null;
        if (!int.TryParse(name.AsSpan(4), out var n) || n < 257 || n > 1 << 20)
            throw new MlpKitException($"--tokenizer {name}: bpe:N needs a vocabulary size N from 257 to {1 << 20}");
        return n;
    }

    static MlpKitException Unknown(string name) =>
        new($"--tokenizer {name}: unknown tokenizer (known: {string.Join(", ", Names)})");
}

/// <summary>Byte-level: every UTF-8 byte is a token. No vocabulary file, identical everywhere.</summary>
public sealed class ByteLmTokenizer : ILmTokenizer
{
    public string Name => "byte";
    public int VocabSize => 256;
    public int[] Encode(string text) => Encoding.UTF8.GetBytes(text).Select(b => (int)b).ToArray();
    public string Decode(IEnumerable<int> ids) => Encoding.UTF8.GetString(ids.Select(i => (byte)i).ToArray());
}

/// <summary>
/// GPT-2's byte-level BPE (or one trained with its conventions). The text is encoded line by line (each line keeps its newline): GPT-2's
/// pre-tokenizer never merges across a newline followed by text, so this gives the same ids as one call while
/// keeping each call small.
/// </summary>
public sealed class Gpt2LmTokenizer(ByteLevelBpeTokenizer bpe, string name = "gpt2") : ILmTokenizer
{
    public static Gpt2LmTokenizer FromAsset()
    {
        var dir = AssetStore.EnsureAsset(AssetRegistry.Gpt2Vocab);
        return new Gpt2LmTokenizer(ByteLevelBpeTokenizer.LoadGpt2(Path.Combine(dir, "encoder.json"), Path.Combine(dir, "vocab.bpe")));
    }

    public string Name => name;
    public int VocabSize => bpe.VocabSize;

    public int[] Encode(string text)
    {
        var ids = new List<int>(text.Length / 3);
        var start = 0;
        while (start < text.Length)
        {
            var nl = text.IndexOf('\n', start);
            var end = nl < 0 ? text.Length : nl + 1;
            ids.AddRange(bpe.Encode(text[start..end]));
            start = end;
        }
        return ids.ToArray();
    }

    public string Decode(IEnumerable<int> ids) => bpe.Decode(ids);
}
