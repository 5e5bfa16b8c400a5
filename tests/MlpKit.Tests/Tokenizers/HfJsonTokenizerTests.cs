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
