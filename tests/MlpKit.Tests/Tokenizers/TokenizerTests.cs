using System.Text.Json;
using CsCheck;
using MlpKit.Tokenizers;
using MlpKit.Tests.Support;
using Xunit;

namespace MlpKit.Tests.Tokenizers;

public class WordPieceTests
{
    // Hand-written vocabulary; the expected ids below are derived by hand from it (id = line number).
    static readonly string[] Vocab =
        ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "un", "##aff", "##able", "dog", ",", "!", "run", "##s", "cat"];

    static string VocabDir(bool? lowerCase = null)
    {
        var dir = TestPaths.TempDir();
        File.WriteAllLines(Path.Combine(dir, "vocab.txt"), Vocab);
        if (lowerCase is { } lc)
            File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), $"{{\"do_lower_case\": {(lc ? "true" : "false")}}}");
        return dir;
    }

    [Fact]
    public void Encodes_greedy_longest_match_subwords()
    {
        var tok = TokenizerFactory.Load(VocabDir());
        Assert.Equal("bert-wordpiece", tok.Kind);
        Assert.Equal(15, tok.VocabSize);
        Assert.Equal([5, 6, 7, 8, 9, 10, 12, 13, 11], tok.Encode("The unaffable dog, runs!"));
        Assert.Equal([14, 13, 1], tok.Encode("cats xyz"));
        Assert.Equal(new SpecialTokenIds(Pad: 0, Cls: 2, Sep: 3, Unk: 1, Mask: 4), tok.Special);
    }

    [Fact]
    public void Pairs_get_cls_sep_and_segment_ids()
    {
        var tok = TokenizerFactory.Load(VocabDir());
        var input = tok.EncodePair("the dog", "cats");
        Assert.Equal([2, 5, 9, 3, 14, 13, 3], input.Ids);
        Assert.Equal([0, 0, 0, 0, 1, 1, 1], input.TypeIds);
        Assert.Equal([2, 5, 9, 3], tok.EncodePair("the dog").Ids);
        // Longest first: the 5-token first text is cut to 2 so that 2 + 1 + 3 specials = 6.
        Assert.Equal([2, 5, 6, 3, 14, 3], tok.EncodePair("the unaffable dog", "cat", maxLength: 6).Ids);
        Assert.Throws<MlpKitException>(() => tok.EncodePair("the", "cat", maxLength: 4));
    }

    [Fact]
    public void Decodes_joining_continuations_and_skipping_specials()
    {
        var tok = TokenizerFactory.Load(VocabDir());
        Assert.Equal("the unaffable dog", tok.Decode([2, 5, 6, 7, 8, 9, 3]));
        Assert.Contains("[CLS]", tok.Decode([2, 5], skipSpecial: false));
        Assert.Throws<MlpKitException>(() => tok.Decode([99]));
    }

    [Fact]
    public void Cased_vocabulary_follows_tokenizer_config()
    {
        var tok = TokenizerFactory.Load(VocabDir(lowerCase: false));
        Assert.Equal([1, 9], tok.Encode("The dog"));   // "The" is not in the (lower-case) vocabulary
    }

    [Fact]
    public void Missing_special_token_is_reported()
    {
        var dir = TestPaths.TempDir();
        File.WriteAllLines(Path.Combine(dir, "vocab.txt"), ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "the"]);
        var e = Assert.Throws<MlpKitException>(() => TokenizerFactory.Load(dir));
        Assert.Contains("vocab.txt: [MASK]:", e.Message);
    }

    [Fact]
    public void Directory_without_tokenizer_files_is_reported()
    {
        var dir = TestPaths.TempDir();
        var e = Assert.Throws<MlpKitException>(() => TokenizerFactory.Load(dir));
        Assert.Contains("no tokenizer files", e.Message);
    }

    [Fact]
    public void Built_vocabulary_matches_the_hand_derived_one()
    {
        var vocab = TokenizerFiles.BuildWordPieceVocab(["Low lower lowest", "low"], 100);
        Assert.Equal(
        [
            "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
            "l", "o", "w", "e", "r", "s", "t",
            "##l", "##o", "##w", "##e", "##r", "##s", "##t",
            "low", "lower", "lowest", "##ow",
            "##er", "##est", "##ower", "##st", "##wer", "##west",
        ], vocab);
        Assert.Equal(vocab.Take(21), TokenizerFiles.BuildWordPieceVocab(["Low lower lowest", "low"], 21));
        Assert.Throws<MlpKitException>(() => TokenizerFiles.BuildWordPieceVocab(["abcdef"], 12));
    }

    [Fact]
    public void Built_vocabulary_encodes_its_corpus_without_unknowns()
    {
        string[] corpus =
        [
            "Mr. Speaker, the state of our Union is strong.",
            "We will build roads, bridges and schools; we will not fail!",
            "Taxes, tariffs and treaties: the Congress decides.",
        ];
        var dir = TestPaths.TempDir();
        var size = TokenizerFiles.WriteBertWordPiece(dir, 80, corpus);
        var tok = TokenizerFactory.Load(dir);
        Assert.Equal(size, tok.VocabSize);
        Assert.Equal(80, size);
        foreach (var line in corpus)
        {
            var ids = tok.Encode(line);
            Assert.DoesNotContain(tok.Special.Unk!.Value, ids);
            // Decoding may drop the space before punctuation; the characters must all come back.
            Assert.Equal(line.ToLowerInvariant().Replace(" ", ""), tok.Decode(ids).Replace(" ", ""));
        }
    }
}

public class ByteLevelBpeTests
{
    /// <summary>A tiny byte-level BPE: "Ġ" is GPT-2's stand-in for the space byte.</summary>
    static string TinyBpeDir()
    {
        var dir = TestPaths.TempDir();
        var vocab = new Dictionary<string, int>
        {
            ["h"] = 0, ["e"] = 1, ["l"] = 2, ["o"] = 3, ["Ġ"] = 4, ["he"] = 5, ["ll"] = 6, ["hell"] = 7, ["hello"] = 8,
            ["Ġh"] = 9, ["!"] = 10, ["<|endoftext|>"] = 11,
        };
        File.WriteAllText(Path.Combine(dir, "vocab.json"), JsonSerializer.Serialize(vocab));
        File.WriteAllLines(Path.Combine(dir, "merges.txt"), ["#version: 0.2", "h e", "l l", "he ll", "hell o", "Ġ h"]);
        return dir;
    }

    [Fact]
    public void Tiny_bpe_applies_merges_in_rank_order()
    {
        var tok = TokenizerFactory.Load(TinyBpeDir());
        Assert.Equal("gpt2-bpe", tok.Kind);
        // " hello" is one pre-token "Ġhello". Merges apply lowest rank first: h e (0), l l (1), he ll (2),
        // hell o (3); "Ġ h" (rank 4) no longer has an "h" to join, so the word is Ġ + hello.
        // In " ho" the only mergeable pair is Ġ h, giving Ġh + o.
        Assert.Equal([8], tok.Encode("hello"));
        Assert.Equal([8, 4, 8, 10], tok.Encode("hello hello!"));
        Assert.Equal([9, 3], tok.Encode(" ho"));
        Assert.Equal("hello hello!", tok.Decode([8, 4, 8, 10]));
        Assert.Equal(new SpecialTokenIds(Bos: 11, Eos: 11), tok.Special);
        Assert.Equal([8, 11, 0], tok.EncodePair("hello", "h").Ids);
    }

    static (string Text, int[] Ids)[] Golden()
    {
        var file = Path.Combine(TestPaths.RepoRoot, "tools", "golden", "gpt2-bpe", "gpt2-bpe-golden.json");
        using var doc = JsonDocument.Parse(File.ReadAllBytes(file));
        return doc.RootElement.GetProperty("cases").EnumerateArray()
            .Select(c => (c.GetProperty("text").GetString()!, c.GetProperty("ids").EnumerateArray().Select(i => i.GetInt32()).ToArray()))
            .ToArray();
    }

    [AssetFact("gpt2-vocab")]
    public void Gpt2_matches_the_reference_js_encoder_and_round_trips()
    {
        var dir = TestPaths.TempDir();
        Assert.Equal(50257, TokenizerFiles.WriteGpt2(dir, TestPaths.Asset("gpt2-vocab")));
        var tok = TokenizerFactory.Load(dir);
        Assert.Equal("gpt2-bpe", tok.Kind);
        Assert.Equal(50257, tok.VocabSize);
        Assert.Equal(50256, tok.Special.Eos);
        foreach (var (text, ids) in Golden())
        {
            Assert.Equal(ids, tok.Encode(text));
            Assert.Equal(text, tok.Decode(ids));
        }
    }

    [AssetFact("gpt2-vocab")]
    public void Roberta_files_shift_gpt2_ids_behind_its_specials()
    {
        var dir = TestPaths.TempDir();
        Assert.Equal(TokenizerFiles.RobertaVocabSize, TokenizerFiles.WriteRoberta(dir, TestPaths.Asset("gpt2-vocab")));
        var tok = TokenizerFactory.Load(dir);
        Assert.Equal("roberta-bpe", tok.Kind);
        Assert.Equal(new SpecialTokenIds(Pad: 1, Bos: 0, Eos: 2, Cls: 0, Sep: 2, Unk: 3, Mask: 50261), tok.Special);
        var golden = Golden();
        foreach (var (text, ids) in golden)
            Assert.Equal(ids.Select(i => i + 4), tok.Encode(text));
        var (a, aIds) = golden[0];
        var (b, bIds) = golden[1];
        var pair = tok.EncodePair(a, b);
        Assert.Equal([0, .. aIds.Select(i => i + 4), 2, 2, .. bIds.Select(i => i + 4), 2], pair.Ids);
        Assert.All(pair.TypeIds, t => Assert.Equal(0, t));
        Assert.Equal(a + b, tok.Decode(pair.Ids));
    }
}

public class ByteLevelRoundTripTests
{
    [AssetFact("gpt2-vocab")]
    public void Any_unicode_text_round_trips_through_gpt2_bpe()
    {
        var asset = TestPaths.Asset("gpt2-vocab");
        var tok = ByteLevelBpeTokenizer.LoadGpt2(Path.Combine(asset, "encoder.json"), Path.Combine(asset, "vocab.bpe"));
        // Byte-level BPE covers all 256 bytes, so decode(encode(s)) must give s back for any valid string.
        Gen.String[Gen.Char['\0', '\uD7FF'], 0, 40]
            .Sample(s =>
            {
                var ids = tok.Encode(s);
                Assert.All(ids, id => Assert.InRange(id, 0, tok.VocabSize - 1));
                Assert.Equal(s, tok.Decode(ids));
            }, iter: 300);
    }
}

public class UseLiteTokenizerTests
{
    [Fact]
    public void SentencePiece_vocab_json_is_detected_and_wrapped()
    {
        var dir = TestPaths.TempDir();
        File.WriteAllText(Path.Combine(dir, "vocab.json"),
            """[["<unk>",0],["<s>",0],["</s>",0],["x",0],["y",0],["z",0],["▁hello",-1],["▁",-2],["h",-3]]""");
        var tok = TokenizerFactory.Load(dir);
        Assert.Equal("sentencepiece-unigram", tok.Kind);
        Assert.Equal(9, tok.VocabSize);
        Assert.Equal(new SpecialTokenIds(Bos: 1, Eos: 2, Unk: 0), tok.Special);
        // "hello h" -> "▁hello▁h": the only segmentation is ▁hello + ▁ + h.
        Assert.Equal([6, 7, 8], tok.Encode("hello h"));
        Assert.Equal([6, 6], tok.EncodePair("hello", "hello").Ids);
        Assert.Equal("hello h", tok.Decode([6, 7, 8]));
    }

    [AssetFact("use-lite")]
    public void The_use_lite_asset_folder_loads_its_tokenizer()
    {
        var tok = TokenizerFactory.Load(TestPaths.Asset("use-lite"));
        Assert.Equal("sentencepiece-unigram", tok.Kind);
        Assert.Equal(8000, tok.VocabSize);
        var ids = tok.Encode("Hello world.");
        Assert.NotEmpty(ids);
        Assert.Equal("Hello world.", tok.Decode(ids));
    }
}
