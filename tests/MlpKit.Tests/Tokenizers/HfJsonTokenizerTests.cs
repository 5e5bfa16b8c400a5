using System.Text.Json.Nodes;
using MlpKit.Tests.Support;
using MlpKit.Tokenizers;
using Xunit;

namespace MlpKit.Tests.Tokenizers;

public class HfJsonTokenizerTests(Xunit.Abstractions.ITestOutputHelper output)
{
    static readonly string[] Sentences =
    [
        "Hello, world!", "The quick brown fox jumps over the lazy dog.", "naïve café résumé — “quotes”", "日本語のテキスト and 中文",
        "It's 2024: we've got 3.14159 reasons; don't we?", "   leading and trailing   ", "supercalifragilisticexpialidocious", "",
    ];

    static string Write(JsonObject json)
    {
        var path = Path.Combine(TestPaths.TempDir(), HfJsonTokenizer.FileName);
        File.WriteAllText(path, json.ToJsonString());
        return path;
    }

    static List<string> TinyVocab() =>
        ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "quick", "brown", "fox", "hello", ",", "!", ".", "world", "##s", "##ing", "jump", "over", "lazy", "dog", "a", "##b"];

    [Fact]
    public void WordPieceTokenizerJsonMatchesTheVocabTxtTokenizer()
    {
        // Two independent implementations of BERT tokenization: HF's Rust tokenizers on tokenizer.json, and
        // Microsoft.ML.Tokenizers' BertTokenizer on vocab.txt.
        var vocab = TinyVocab();
        var dir = TestPaths.TempDir();
        File.WriteAllLines(Path.Combine(dir, "vocab.txt"), vocab);
        var slow = WordPieceTextTokenizer.Load(Path.Combine(dir, "vocab.txt"));
        using var fast = HfJsonTokenizer.Load(Write(TokenizerJson.BertWordPiece(vocab, lowerCase: true)));
        Assert.Equal(vocab.Count, fast.VocabSize);
        Assert.Equal(slow.Special, fast.Special);
        foreach (var s in Sentences.Append("Hello jumps the dogs over a lazy fox!"))
        {
            Assert.Equal(slow.Encode(s), fast.Encode(s));
            Assert.Equal(slow.EncodePair(s).Ids, fast.EncodePair(s).Ids);
        }
        var pairSlow = slow.EncodePair("the quick fox", "hello world", 8);
        var pairFast = fast.EncodePair("the quick fox", "hello world", 8);
        Assert.Equal(pairSlow.Ids, pairFast.Ids);
        Assert.Equal(pairSlow.TypeIds, pairFast.TypeIds);
    }

    [AssetFact("minilm")]
    public void MiniLmTokenizerJsonMatchesItsVocabTxt()
    {
        var asset = TestPaths.Asset("minilm");
        Assert.IsType<HfJsonTokenizer>(TokenizerFactory.Load(asset));
        var slow = WordPieceTextTokenizer.Load(Path.Combine(asset, "vocab.txt"));
        using var fast = HfJsonTokenizer.Load(Path.Combine(asset, HfJsonTokenizer.FileName));
        foreach (var s in Sentences) Assert.Equal(slow.EncodePair(s, null, 256).Ids, fast.EncodePair(s, null, 256).Ids);
        Assert.Equal(new[] { 101, 7592, 1010, 2088, 999, 102 }, fast.EncodePair("Hello, world!").Ids);
    }

    [AssetFact("gpt2-vocab")]
    public void Gpt2TokenizerJsonReproducesTheReferenceEncoder()
    {
        // Golden ids from the reference JavaScript encoder (tools/golden/gpt2-bpe/make-golden.js).
        var asset = TestPaths.Asset("gpt2-vocab");
        var vocab = ByteLevelBpeTokenizer.ReadVocab(Path.Combine(asset, "encoder.json"));
        using var tok = HfJsonTokenizer.Load(Write(TokenizerJson.Gpt2ByteLevel(vocab, File.ReadAllLines(Path.Combine(asset, "vocab.bpe")))));
        var golden = JsonNode.Parse(File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "tools", "golden", "gpt2-bpe", "gpt2-bpe-golden.json")))!;
        int n = 0;
        foreach (var c in golden["cases"]!.AsArray())
        {
            var text = c!["text"]!.GetValue<string>();
            Assert.Equal(c["ids"]!.AsArray().Select(i => i!.GetValue<int>()), tok.Encode(text));
            Assert.Equal(text, tok.Decode(tok.Encode(text)));
            n++;
        }
        output.WriteLine($"{n} golden cases equal");
        Assert.Equal(50256, tok.Special.Eos);
    }

    [Theory]
    [InlineData("{\"model\": ", "malformed JSON")]
    [InlineData("{\"version\": \"1.0\"}", "model: missing")]
    [InlineData("{\"model\": {\"type\": \"Sentencepiece\", \"vocab\": {}}}", "model.type: 'Sentencepiece' is not supported")]
    [InlineData("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}}, \"post_processor\": {\"type\": \"Magic\"}}", "post_processor.type: 'Magic'")]
    public void BadTokenizerJsonIsOneLineNamingTheField(string content, string expected)
    {
        var dir = TestPaths.TempDir();
        var path = Path.Combine(dir, HfJsonTokenizer.FileName);
        File.WriteAllText(path, content);
        var e = Assert.Throws<MlpKitException>(() => TokenizerFactory.Load(dir));
        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}

/// <summary>
/// The tokenizer.json layout Llama 2 and Mistral ship: SentencePiece-style BPE (▁ for spaces, a Prepend/Replace
/// normalizer), byte fallback for pieces outside the vocabulary, and a TemplateProcessing post-processor adding &lt;s&gt;.
/// </summary>
public class SentencePieceBpeTokenizerJsonTests
{
    static string Write()
    {
        var dir = MlpKit.Tests.Support.TestPaths.TempDir();
        var vocab = new System.Text.Json.Nodes.JsonObject { ["<unk>"] = 0, ["<s>"] = 1, ["</s>"] = 2 };
        for (int b = 0; b < 256; b++) vocab[$"<0x{b:X2}>"] = 3 + b;
        string[] pieces = ["▁", "h", "e", "l", "o", "w", "r", "d", "he", "ll", "llo", "hello", "▁hello", "wo", "wor", "world", "▁world"];
        foreach (var p in pieces) vocab[p] = vocab.Count;
        string[] merges = ["h e", "l l", "ll o", "he llo", "▁ hello", "w o", "wo r", "wor l", "worl d", "▁ world"];
        // "worl" is needed by "worl d": add it so the merges are consistent.
        vocab["worl"] = vocab.Count;
        var json = new System.Text.Json.Nodes.JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = new System.Text.Json.Nodes.JsonArray(
                new System.Text.Json.Nodes.JsonObject { ["id"] = 0, ["content"] = "<unk>", ["special"] = true, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = false },
                new System.Text.Json.Nodes.JsonObject { ["id"] = 1, ["content"] = "<s>", ["special"] = true, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = false },
                new System.Text.Json.Nodes.JsonObject { ["id"] = 2, ["content"] = "</s>", ["special"] = true, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = false }),
            ["normalizer"] = System.Text.Json.Nodes.JsonNode.Parse("""{"type":"Sequence","normalizers":[{"type":"Prepend","prepend":"▁"},{"type":"Replace","pattern":{"String":" "},"content":"▁"}]}"""),
            ["pre_tokenizer"] = null,
            ["post_processor"] = System.Text.Json.Nodes.JsonNode.Parse("""{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],"pair":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"<s>","type_id":1}},{"Sequence":{"id":"B","type_id":1}}],"special_tokens":{"<s>":{"id":"<s>","ids":[1],"tokens":["<s>"]}}}"""),
            ["decoder"] = System.Text.Json.Nodes.JsonNode.Parse("""{"type":"Sequence","decoders":[{"type":"Replace","pattern":{"String":"▁"},"content":" "},{"type":"ByteFallback"},{"type":"Fuse"},{"type":"Strip","content":" ","start":1,"stop":0}]}"""),
            ["model"] = new System.Text.Json.Nodes.JsonObject
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = "<unk>", ["continuing_subword_prefix"] = null, ["end_of_word_suffix"] = null,
                ["fuse_unk"] = true, ["byte_fallback"] = true, ["vocab"] = vocab,
                ["merges"] = new System.Text.Json.Nodes.JsonArray(merges.Select(m => (System.Text.Json.Nodes.JsonNode)m).ToArray()),
            },
        };
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), json.ToJsonString());
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), """{"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}""");
        return dir;
    }

    [Fact]
    public void EncodesWithTheSpacePieceBosAndByteFallbackAndDecodesBack()
    {
        var tok = MlpKit.Tokenizers.TokenizerFactory.Load(Write());
        Assert.Equal(1, tok.Special.Bos);
        Assert.Equal(2, tok.Special.Eos);
        var ids = tok.EncodePair("hello world", null, null).Ids;
        var vocabStart = 3 + 256;
        Assert.Equal(1, ids[0]);                                  // <s> from the template
        Assert.Equal(new[] { vocabStart + 12, vocabStart + 16 }, ids[1..]);   // ▁hello ▁world
        // "é" is not a piece: UTF-8 bytes C3 A9 through the byte-fallback tokens.
        var accented = tok.Encode("hé");
        Assert.Contains(3 + 0xC3, accented);
        Assert.Contains(3 + 0xA9, accented);
        Assert.Equal("hello world", tok.Decode(ids));
        Assert.Equal("hé", tok.Decode(accented));
    }
}
