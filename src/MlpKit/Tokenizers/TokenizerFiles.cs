using System.Globalization;
using System.Text;
using System.Text.Json;
using MlpKit.Assets;
using MlpKit.Checkpoints;
using MlpKit.Data;

namespace MlpKit.Tokenizers;

/// <summary>
/// Writes tokenizer files into a new model directory (for `mlpkit init`, through each architecture's
/// <see cref="MlpKit.Models.ModelArchitecture.WriteTokenizer"/>), in the Hugging Face layout that
/// <see cref="TokenizerFactory.Load"/> reads back:
/// <list type="bullet">
/// <item>gpt2: vocab.json = GPT-2's encoder.json, merges.txt = its vocab.bpe (the gpt2-vocab asset); 50257 ids,
/// &lt;|endoftext|&gt; = 50256.</item>
/// <item>roberta: the same merges; vocab.json puts &lt;s&gt;=0, &lt;pad&gt;=1, &lt;/s&gt;=2, &lt;unk&gt;=3 first (RoBERTa's
/// convention, which its position ids rely on: padding_idx = 1), the GPT-2 tokens after them (id + 4), and
/// &lt;mask&gt; last; 50262 ids.</item>
/// <item>bert: a vocab.txt built from a corpus (<see cref="BuildWordPieceVocab"/>).</item>
/// </list>
/// </summary>
public static class TokenizerFiles
{
    public const int Gpt2VocabSize = 50257;
    public const int RobertaVocabSize = Gpt2VocabSize + 5;
    public static readonly string[] BertSpecials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

    /// <summary>GPT-2's tokenizer (vocab.json + merges.txt from the gpt2-vocab asset); returns its vocabulary size, 50257.</summary>
    public static int WriteGpt2(string modelDir, string? gpt2AssetDir = null)
    {
        Directory.CreateDirectory(modelDir);
        var asset = gpt2AssetDir ?? AssetStore.EnsureAsset(AssetRegistry.Gpt2Vocab);
        CopyAtomically(Path.Combine(asset, "encoder.json"), Path.Combine(modelDir, "vocab.json"));
        CopyAtomically(Path.Combine(asset, "vocab.bpe"), Path.Combine(modelDir, "merges.txt"));
        return ByteLevelBpeTokenizer.ReadVocab(Path.Combine(modelDir, "vocab.json")).Values.Max() + 1;
    }

    /// <summary>
    /// GPT-2's byte-level BPE as one Hugging Face tokenizer.json (the form Llama 3, Qwen2 and SmolLM ship), plus a
    /// tokenizer_config.json naming &lt;|endoftext|&gt; (id 50256) the end-of-sequence token; returns 50257.
    /// </summary>
    public static int WriteGpt2TokenizerJson(string modelDir, string? gpt2AssetDir = null)
    {
        Directory.CreateDirectory(modelDir);
        var asset = gpt2AssetDir ?? AssetStore.EnsureAsset(AssetRegistry.Gpt2Vocab);
        var vocab = ByteLevelBpeTokenizer.ReadVocab(Path.Combine(asset, "encoder.json"));
        var merges = File.ReadAllLines(Path.Combine(asset, "vocab.bpe"));
        AtomicFile.WriteAllText(Path.Combine(modelDir, HfJsonTokenizer.FileName), TokenizerJson.Gpt2ByteLevel(vocab, merges).ToJsonString());
        AtomicFile.WriteAllText(Path.Combine(modelDir, "tokenizer_config.json"),
            """{"tokenizer_class": "PreTrainedTokenizerFast", "eos_token": "<|endoftext|>", "unk_token": null, "model_max_length": 1000000}""" + "\n");
        return vocab.Values.Max() + 1;
    }

    /// <summary>RoBERTa's tokenizer: GPT-2's merges with RoBERTa's specials first (see the class summary); returns 50262.</summary>
    public static int WriteRoberta(string modelDir, string? gpt2AssetDir = null)
    {
        Directory.CreateDirectory(modelDir);
        var asset = gpt2AssetDir ?? AssetStore.EnsureAsset(AssetRegistry.Gpt2Vocab);
        var gpt2 = ByteLevelBpeTokenizer.ReadVocab(Path.Combine(asset, "encoder.json"));
        var vocab = new Dictionary<string, int> { ["<s>"] = 0, ["<pad>"] = 1, ["</s>"] = 2, ["<unk>"] = 3 };
        foreach (var (token, id) in gpt2.OrderBy(p => p.Value)) vocab[token] = id + 4;
        vocab["<mask>"] = vocab.Values.Max() + 1;
        WriteAtomically(Path.Combine(modelDir, "vocab.json"), JsonSerializer.SerializeToUtf8Bytes(vocab));
        CopyAtomically(Path.Combine(asset, "vocab.bpe"), Path.Combine(modelDir, "merges.txt"));
        return vocab.Count;
    }

    /// <summary>
    /// A BERT vocab.txt of at most <paramref name="vocabSize"/> tokens built from <paramref name="corpus"/> (default:
    /// the SOTU training split) by <see cref="BuildWordPieceVocab"/>; returns its size.
    /// </summary>
    public static int WriteBertWordPiece(string modelDir, int vocabSize = 8192, IEnumerable<string>? corpus = null)
    {
        Directory.CreateDirectory(modelDir);
        var tokens = BuildWordPieceVocab(corpus ?? SotuCorpus.Load(DataSplit.Train).Select(s => s.Text), vocabSize);
        WriteAtomically(Path.Combine(modelDir, "vocab.txt"), Encoding.UTF8.GetBytes(string.Join('\n', tokens) + "\n"));
        return tokens.Count;
    }

    /// <summary>
    /// A WordPiece vocabulary of at most <paramref name="vocabSize"/> tokens from a corpus, lower-cased and split
    /// like BERT's basic tokenizer (whitespace, then each punctuation or symbol character on its own). In order:
    /// the five specials ([PAD]=0, [UNK]=1, [CLS]=2, [SEP]=3, [MASK]=4); every character seen, alone and as
    /// "##c", so any word of the corpus' alphabet encodes without [UNK]; then, by descending corpus frequency
    /// (ties ordinal), whole words and word-final pieces "##xy".."##xyzw" (2-4 characters) interleaved so both
    /// get slots. It is a frequency heuristic, not Google's likelihood-based WordPiece trainer: good enough for
    /// randomly initialised models whose point is the MLP blocks, not the vocabulary.
    /// </summary>
    public static List<string> BuildWordPieceVocab(IEnumerable<string> corpus, int vocabSize, bool lowerCase = true)
    {
        var words = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var text in corpus)
            foreach (var word in BasicTokens(lowerCase ? text.ToLowerInvariant() : text))
                words[word] = words.GetValueOrDefault(word) + 1;

        var chars = new Dictionary<string, long>(StringComparer.Ordinal);
        var suffixes = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (word, count) in words)
        {
            var elements = StringInfo.GetTextElementEnumerator(word);
            var units = new List<string>();
            while (elements.MoveNext()) units.Add((string)elements.Current);
            foreach (var u in units) chars[u] = chars.GetValueOrDefault(u) + count;
            for (var len = 2; len <= 4 && len < units.Count; len++)
            {
                var piece = "##" + string.Concat(units.Skip(units.Count - len));
                suffixes[piece] = suffixes.GetValueOrDefault(piece) + count;
            }
        }

        var vocab = new List<string>(BertSpecials);
        var seen = new HashSet<string>(vocab, StringComparer.Ordinal);
        void Add(string token)
        {
            if (vocab.Count < vocabSize && seen.Add(token)) vocab.Add(token);
        }
        var alphabet = ByFrequency(chars).ToArray();
        if (BertSpecials.Length + 2 * alphabet.Length > vocabSize)
            throw new MlpKitException($"vocab size {vocabSize} is smaller than the corpus alphabet needs ({BertSpecials.Length + 2 * alphabet.Length} = 5 specials + 2 x {alphabet.Length} characters)");
        foreach (var c in alphabet) Add(c);
        foreach (var c in alphabet) Add("##" + c);
        using var wordQueue = ByFrequency(words.Where(w => w.Key.Length > 1)).GetEnumerator();
        using var suffixQueue = ByFrequency(suffixes).GetEnumerator();
        bool moreWords = true, moreSuffixes = true;
        // Three words per suffix: whole words carry most of the text, suffixes make the rest cheaper to spell.
        for (var step = 0; vocab.Count < vocabSize && (moreWords || moreSuffixes); step++)
        {
            if (step % 4 < 3 || !moreSuffixes)
            {
                if (moreWords && (moreWords = wordQueue.MoveNext())) Add(wordQueue.Current);
                else if (moreSuffixes && (moreSuffixes = suffixQueue.MoveNext())) Add(suffixQueue.Current);
            }
            else if (moreSuffixes = suffixQueue.MoveNext()) Add(suffixQueue.Current);
        }
        return vocab;
    }

    static IEnumerable<string> ByFrequency(IEnumerable<KeyValuePair<string, long>> counts) =>
        counts.OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Key);

    /// <summary>Whitespace split, then every punctuation/symbol character as its own token (BERT's basic tokenizer).</summary>
    internal static IEnumerable<string> BasicTokens(string text)
    {
        var current = new StringBuilder();
        foreach (var ch in text)
        {
            if (char.IsWhiteSpace(ch) || char.IsControl(ch))
            {
                if (current.Length > 0) { yield return current.ToString(); current.Clear(); }
            }
            else if (char.IsPunctuation(ch) || char.IsSymbol(ch))
            {
                if (current.Length > 0) { yield return current.ToString(); current.Clear(); }
                yield return ch.ToString();
            }
            else current.Append(ch);
        }
        if (current.Length > 0) yield return current.ToString();
    }

    static void CopyAtomically(string from, string to)
    {
        if (!File.Exists(from)) throw new MlpKitException($"{from}: file not found");
        WriteAtomically(to, File.ReadAllBytes(from));
    }

    static void WriteAtomically(string path, byte[] bytes) => AtomicFile.WriteAllBytes(path, bytes);

    /// <summary>
    /// The files a zoo model folder may carry beside its weights: the tokenizer, and the sentence-transformers
    /// pooling files. A checkpoint written from it keeps them, so it is usable (and pools) on its own.
    /// </summary>
    public static readonly string[] Names = ["vocab.txt", "vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
        .. MlpKit.Embeddings.SentencePooling.Files];

    /// <summary>
    /// Copies the tokenizer files present in <paramref name="fromDir"/> over any in <paramref name="toDir"/>: the
    /// written model must carry the tokenizer it was trained with, not one left there by an earlier run.
    /// </summary>
    public static void Copy(string fromDir, string toDir)
    {
        if (Path.GetFullPath(fromDir) == Path.GetFullPath(toDir)) return;
        foreach (var file in Names)
            if (File.Exists(Path.Combine(fromDir, file)))
            {
                var target = Path.Combine(toDir, file);
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(Path.Combine(fromDir, file), target, overwrite: true);
            }
    }
}
