using System.Text;
using CsCheck;
using MlpKit.Tokenizers;
using MlpKit.Lm;
using MlpKit.Tests.Support;
using Xunit;

namespace MlpKit.Tests.Tokenizers;

public class BpeTrainerTests
{
    [Fact]
    public void Learns_the_classic_aaabdaaabac_merges()
    {
        // One pre-token word. Pair counts aa:4 ab:2 -> merge "a a"; then (aa,a):2 and (a,b):2 tie, and the
        // ordinally smaller left token "a" wins -> "a b"; then (aa,ab):2 is the only repeated pair.
        var merges = BpeTrainer.Train("aaabdaaabac", 256 + 3);
        Assert.Equal([("a", "a"), ("a", "b"), ("aa", "ab")], merges);
    }

    [Fact]
    public void Leading_spaces_become_the_byte_alphabet_G()
    {
        // Words: "hug" x1, " hug" x2, " pug" x1. Pairs: u g 4, h u 3, Ġ h 2, Ġ p 1 -> "u g";
        // then h ug 3 -> "h ug"; then Ġ hug 2 beats Ġ p 1.
        var merges = BpeTrainer.Train("hug hug hug pug", 256 + 3);
        Assert.Equal([("u", "g"), ("h", "ug"), ("Ġ", "hug")], merges);
    }

    [Fact]
    public void Byte_alphabet_is_gpt2s()
    {
        var a = BpeTrainer.ByteAlphabet;
        Assert.Equal(256, a.Distinct().Count());
        Assert.Equal("Ġ", a[' ']);
        Assert.Equal("Ċ", a['\n']);
        Assert.Equal("A", a['A']);
        Assert.Equal("Ā", a[0]);
    }

    static readonly string Corpus = string.Join("\n", Enumerable.Range(0, 40).Select(i =>
        $"The {i % 7} quick brown foxes jump over the lazy dogs, don't they? Ünïcödé naïve café {i * 13} — “quoted” text.  Tabs\tand  spaces."));

    static (string Dir, List<(string L, string R)> Merges) TrainSmall(int vocab = 400)
    {
        var dir = TestPaths.TempDir();
        var merges = BpeTrainer.Train(Corpus, vocab);
        BpeTrainer.Write(merges, dir);
        return (dir, merges);
    }

    static ByteLevelBpeTokenizer Load(string dir) =>
        ByteLevelBpeTokenizer.LoadGpt2(Path.Combine(dir, BpeTrainer.VocabFile), Path.Combine(dir, BpeTrainer.MergesFile));

    [Fact]
    public void Trained_files_load_and_round_trip_arbitrary_text()
    {
        var (dir, merges) = TrainSmall();
        Assert.Equal(400 - 256, merges.Count);
        var tok = Load(dir);
        Assert.True(tok.Encode(Corpus).Length < Encoding.UTF8.GetByteCount(Corpus) / 2, "the merges should compress their own corpus");
        Gen.String.Sample(s => Assert.Equal(s, tok.Decode(tok.Encode(s))), iter: 300);
        Gen.String[Gen.Char[(char)0, (char)0x2FF], 0, 60].Sample(s => Assert.Equal(s, tok.Decode(tok.Encode(s))), iter: 300);
    }

    [Fact]
    public void Library_ids_equal_applying_the_merges_directly()
    {
        var (dir, merges) = TrainSmall();
        var tok = Load(dir);
        var vocab = ByteLevelBpeTokenizer.ReadVocab(Path.Combine(dir, BpeTrainer.VocabFile));
        var rank = merges.Select((m, i) => (m, i)).ToDictionary(x => x.m, x => x.i);
        foreach (var text in new[] { Corpus, "the lazy dog's café, 1234 quick  foxes\n\nnew line", "zzz unseen ∑ words 😀" })
            Assert.Equal(Reference(text, rank, vocab), tok.Encode(text));
    }

    // Textbook BPE application, independent of the trainer and the library: per pre-token, repeatedly merge
    // the adjacent pair with the lowest merge rank.
    static int[] Reference(string text, Dictionary<(string, string), int> rank, Dictionary<string, int> vocab)
    {
        var ids = new List<int>();
        var split = new System.Text.RegularExpressions.Regex(@"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+");
        foreach (System.Text.RegularExpressions.Match m in split.Matches(text))
        {
            var syms = Encoding.UTF8.GetBytes(m.Value).Select(b => BpeTrainer.ByteAlphabet[b]).ToList();
            while (true)
            {
                int best = -1, bestRank = int.MaxValue;
                for (var i = 0; i + 1 < syms.Count; i++)
                    if (rank.TryGetValue((syms[i], syms[i + 1]), out var r) && r < bestRank) (best, bestRank) = (i, r);
                if (best < 0) break;
                syms[best] += syms[best + 1];
                syms.RemoveAt(best + 1);
            }
            ids.AddRange(syms.Select(s => vocab[s]));
        }
        return ids.ToArray();
    }

    [Fact]
    public void Lm_tokenizer_trains_once_and_reuses_the_run_folder_files()
    {
        var run = TestPaths.TempDir();
        var calls = 0;
        var first = LmTokenizers.Create("bpe:300", run, () => { calls++; return Corpus; });
        Assert.Equal(1, calls);
        Assert.Equal(300, first.VocabSize);
        Assert.Equal("bpe:300", first.Name);
        var again = LmTokenizers.Create("bpe:300", run, () => { calls++; return "other text entirely"; });
        Assert.Equal(1, calls);
        Assert.Equal(first.Encode(Corpus), again.Encode(Corpus));
        Assert.Equal(Corpus, again.Decode(again.Encode(Corpus)));
        Assert.Equal(8192, LmTokenizers.TrainedBpeSize("bpe8k"));
        Assert.True(LmTokenizers.IsKnown("bpe:1000"));
        Assert.False(LmTokenizers.IsKnown("wordpiece"));
        Assert.Throws<MlpKitException>(() => LmTokenizers.TrainedBpeSize("bpe:12"));
    }
}
