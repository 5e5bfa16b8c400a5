using System.Text.Json.Nodes;
using MlpKit.Data;
using MlpKit.FineTuning;
using MlpKit.Generation;
using MlpKit.Models;
using MlpKit.Tests.FfnVariantsTests;
using MlpKit.Tests.Support;
using MlpKit.Tokenizers;
using MlpKit.Training;
using static TorchSharp.torch;
using Xunit;

namespace MlpKit.Tests.FineTuning;

/// <summary>Whitespace words, id 0 = &lt;eos&gt; (also BOS, as GPT-2's &lt;|endoftext|&gt;): token boundaries the tests can count.</summary>
sealed class WordTokenizer : ITextTokenizer
{
    readonly List<string> _words;
    readonly Dictionary<string, int> _ids;

    public WordTokenizer(IEnumerable<string> words)
    {
        _words = ["<eos>", .. words.Distinct()];
        _ids = _words.Select((w, i) => (w, i)).ToDictionary(p => p.w, p => p.i);
    }

    public string Kind => "words";
    public int VocabSize => _words.Count;
    public SpecialTokenIds Special { get; } = new(Bos: 0, Eos: 0);
    public int Id(string word) => _ids[word];
    public int[] Encode(string text) => text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(w => _ids[w]).ToArray();
    public TokenizedInput EncodePair(string text, string? pair = null, int? maxLength = null) => throw new NotSupportedException();
    public string Decode(IEnumerable<int> ids, bool skipSpecial = true) =>
        string.Join(' ', ids.Where(i => !(skipSpecial && i == 0)).Select(i => _words[i]));
}

[Collection(MlpKit.Tests.Training.TorchRngCollection.Name)]
public class GenerationFineTuneTests
{
    /// <summary>
    /// A fixed lookup: "lookup kI" -> the five words w(I), w(I+1), ..., w(I+4) (mod 12); BLEU-4 needs targets of
    /// four words or more. Dev asks the same keys (learning the table is the task), so a model that learnt it
    /// scores far above an untrained one.
    /// </summary>
    static (TextGenerationTask Task, WordTokenizer Tokenizer) Lookup(int keys = 24)
    {
        var pairs = Enumerable.Range(0, keys)
            .Select(k => new GenerationExample($"lookup k{k}", string.Join(' ', Enumerable.Range(0, 5).Select(j => $"w{(k + j) % 12}")))).ToList();
        var words = new[] { "lookup" }.Concat(Enumerable.Range(0, keys).Select(k => $"k{k}")).Concat(Enumerable.Range(0, 12).Select(w => $"w{w}"));
        return (new TextGenerationTask("lookup", pairs, pairs, pairs.Take(8).ToList()), new WordTokenizer(words));
    }

    /// <summary>The zoo's tiny GPT-2 without dropout: the tests check the pipeline, and memorising needs no regulariser.</summary>
    static ICausalLanguageModel TinyGpt2(long vocab, long seed = 5)
    {
        var config = ModelZoo.Presets("gpt2", "tiny", vocab);
        foreach (var p in new[] { "resid_pdrop", "embd_pdrop", "attn_pdrop" }) config.Set(p, 0.0);
        return (ICausalLanguageModel)ModelZoo.Create(config, seed);
    }

    static GenerationRunSpec Spec(TextGenerationTask data, string method, long steps, double lr, Dictionary<string, string>? options = null,
        GenerationDecoding? decoding = null) =>
        new("memory", data, method, options ?? new Dictionary<string, string>(),
            new TrainerOptions { MaxSteps = steps, BatchSize = 8, LearningRate = lr, WarmupRatio = 0, Progress = false, Seed = 1 },
            decoding ?? new GenerationDecoding { MaxNewTokens = 8 }, MaxLength: 32, EvaluateBefore: true);

    [Fact]
    public void LossMaskCoversExactlyTheTargetTokensAndEos()
    {
        var tok = new WordTokenizer(["a", "b", "c", "d", "e"]);
        int A = tok.Id("a"), B = tok.Id("b"), C = tok.Id("c"), D = tok.Id("d"), E = tok.Id("e");
        var enc = new GenerationEncoder(tok, 16);
        var x = enc.Encode("a b", "c d");
        Assert.Equal(new[] { 0, A, B, C, D, 0 }, x.Ids);
        Assert.Equal(3, x.TargetStart);
        Assert.True(x.EndsWithEos);
        var y = enc.Encode("e", "a");
        var (ids, labels) = GenerationEncoder.Collate([x, y], padId: 0);
        const long I = GenerationEncoder.IgnoreIndex;
        Assert.Equal(new long[] { 0, A, B, C, D, 0, 0, E, A, 0, 0, 0 }, ids.data<long>().ToArray());
        // Prompt (BOS included) and padding ignored; target tokens and the EOS after them labelled.
        Assert.Equal(new long[] { I, I, I, C, D, 0, I, I, A, 0, I, I }, labels.data<long>().ToArray());

        // The loss is the mean over exactly those positions of -log p(next), checked against a loop over them.
        manual_seed(0);
        var logits = randn(2, 6, tok.VocabSize, dtype: ScalarType.Float64);
        var (sum, count) = GenerationEncoder.TargetLoss(logits, labels);
        Assert.Equal(5, count);
        var logp = logits.log_softmax(-1);
        double expected = 0;
        foreach (var (row, pos, token) in new[] { (0, 2, C), (0, 3, D), (0, 4, 0), (1, 1, A), (1, 2, 0) })
            expected -= logp[row, pos, token].item<double>();
        Assert.Equal(expected, sum.item<double>(), 10);

        // Too long: prompt tokens go from the left (BOS stays); a target that alone overflows loses its tail and EOS.
        var cut = new GenerationEncoder(tok, 5).Encode("a b", "c d");
        Assert.Equal(new[] { 0, B, C, D, 0 }, cut.Ids);
        Assert.Equal(2, cut.TargetStart);
        var overflow = new GenerationEncoder(tok, 4).Encode("a b", "c d");
        Assert.Equal(new[] { 0, B, C, D }, overflow.Ids);
        Assert.False(overflow.EndsWithEos);
        Assert.Equal(new[] { 0, A, B }, new GenerationEncoder(tok, 4).Context("e a b"));
    }

    [Fact]
    public void FineTuningALookupRaisesBleuAndBeamWithOneBeamIsGreedy()
    {
        using var scope = NewDisposeScope();
        using var one = new SingleThread();
        var (data, tok) = Lookup(16);
        using var model = TinyGpt2(tok.VocabSize);
        var r = GenerationFineTuneRun.Run(model, tok, Spec(data, "full", 60, 1e-2));
        var before = r.DevBefore!.Result;
        var after = r.Dev!.Result;
        Assert.Equal("bleu", after.Metric);
        Assert.True(after.Value > 0.8 && after.Value > before.Value + 0.5, $"dev BLEU {before.Value} -> {after.Value}, loss {before.Loss} -> {after.Loss}: " +
            string.Join(" | ", r.Dev.Predictions.Take(4).Select(p => $"{p.Reference} => {p.Hypothesis}")));
        Assert.True(after.Extra!["rougeL"] > before.Extra!["rougeL"] + 0.5, $"ROUGE-L {before.Extra["rougeL"]} -> {after.Extra["rougeL"]}");
        Assert.True(after.Loss < before.Loss / 4, $"target loss {before.Loss} -> {after.Loss}");
        Assert.Equal(data.Dev.Count, r.Dev.Predictions.Count);
        Assert.Equal(8, r.Test!.Predictions.Count);

        model.Module.eval();
        var greedy = new GenerationTrainingTask(model, new GenerationEncoder(tok, 32), data, new GenerationDecoding { MaxNewTokens = 8 });
        var beam1 = new GenerationTrainingTask(model, new GenerationEncoder(tok, 32), data, new GenerationDecoding { Mode = "beam", Beams = 1, MaxNewTokens = 8 });
        var beam4 = new GenerationTrainingTask(model, new GenerationEncoder(tok, 32), data, new GenerationDecoding { Mode = "beam", Beams = 4, MaxNewTokens = 8 });
        using (no_grad())
        {
            foreach (var e in data.Dev.Take(6))
            {
                Assert.Equal(greedy.Generate(e.Prompt), beam1.Generate(e.Prompt));
                // The beam code itself with one beam (no EOS, no length penalty: then it must follow the argmax path)
                // against the cached greedy decoder: two independent code paths.
                var context = new GenerationEncoder(tok, 32).Context(e.Prompt).Select(i => (long)i).ToArray();
                Assert.Equal(TextGenerator.Generate(model, context, new GenerationOptions { MaxNewTokens = 8 }),
                    BeamSearch.Generate(model, context, new BeamSearchOptions { NumBeams = 1, MaxNewTokens = 8, LengthPenalty = 0 }));
            }
            Assert.True(beam4.Score(data.Dev).Result.Value > 0.8);
        }
    }

    [Theory]
    [InlineData("lora", "rank=4")]
    [InlineData("sparsegrad", "density=0.05")]
    [InlineData("meprop", "keep=0.5")]
    public void EveryMethodLowersTheTargetLossOnGpt2(string method, string option)
    {
        using var scope = NewDisposeScope();
        using var one = new SingleThread();
        var (data, tok) = Lookup(12);
        using var model = TinyGpt2(tok.VocabSize);
        var targeted = MlpLinears.Find(model.Module).Select(l => l.Name).ToList();
        Assert.Equal(["layers.0.mlp.up", "layers.0.mlp.down", "layers.1.mlp.up", "layers.1.mlp.down"], targeted);
        var kv = option.Split('=');
        var options = new Dictionary<string, string> { [kv[0]] = kv[1] };
        if (method == "sparsegrad") options["calibration-steps"] = "2";
        var r = GenerationFineTuneRun.Run(model, tok, Spec(data with { Test = [] }, method, 25, 1e-2, options));
        Assert.True(r.Dev!.Result.Loss < r.DevBefore!.Result.Loss - 0.5, $"{method}: target loss {r.DevBefore.Result.Loss} -> {r.Dev.Result.Loss}");
        // MeProp trains whole MLP weights (most of this tiny model); the other two train a small part of them.
        Assert.True(r.Footprint!.TrainableParameters < model.Module.parameters().Sum(p => p.numel()) / (method == "meprop" ? 1 : 4));
        Assert.True(double.IsNaN(r.Test!.Result.Value));
    }

    [Fact]
    public void MixtralExpertsAreTargetedAndSparseGradLowersTheLoss()
    {
        using var scope = NewDisposeScope();
        using var one = new SingleThread();
        var (data, tok) = Lookup(12);
        using var model = (ICausalLanguageModel)ModelZoo.Create(ModelZoo.Presets("mixtral", "tiny", tok.VocabSize), 5);
        // Every expert's SwiGLU linears: 2 layers x 4 experts x (up, gate, down).
        Assert.Equal(24, MlpLinears.Find(model.Module).Count);
        var options = new Dictionary<string, string> { ["density"] = "0.05", ["calibration-steps"] = "2" };
        var r = GenerationFineTuneRun.Run(model, tok, Spec(data with { Test = [] }, "sparsegrad", 25, 1e-2, options));
        Assert.True(r.Dev!.Result.Loss < r.DevBefore!.Result.Loss - 0.5, $"target loss {r.DevBefore.Result.Loss} -> {r.Dev.Result.Loss}");
    }

    [Theory]
    [InlineData("sparsegrad", "density=0.05")]
    [InlineData("lora", "rank=4")]
    [InlineData("full", "")]
    [InlineData("meprop", "keep=0.5")]
    [InlineData("fusion+sparsegrad", "fusion-ratio=0.5")]
    public void LlamaSwiGluLinearsAreTargetedAndEveryMethodLowersTheLoss(string method, string option)
    {
        using var scope = NewDisposeScope();
        using var one = new SingleThread();
        var (data, tok) = Lookup(12);
        using var model = (ICausalLanguageModel)ModelZoo.Create(ModelZoo.Presets("llama", "tiny", tok.VocabSize), 5);
        // Each layer's gated MLP: gate, up and down.
        Assert.Equal(6, MlpLinears.Find(model.Module).Count);
        var options = new Dictionary<string, string>();
        if (option.Length > 0) options[option.Split('=')[0]] = option.Split('=')[1];
        if (method.Contains("sparsegrad")) options["calibration-steps"] = "2";
        var r = GenerationFineTuneRun.Run(model, tok, Spec(data with { Test = [] }, method, 25, 1e-2, options));
        Assert.True(r.Dev!.Result.Loss < r.DevBefore!.Result.Loss - 0.5, $"{method}: target loss {r.DevBefore.Result.Loss} -> {r.Dev.Result.Loss}");
    }

    /// <summary>A tiny GPT-2 folder with a byte-level BPE tokenizer (learned on the task text, plus &lt;|endoftext|&gt;).</summary>
    static string TinyGpt2Folder(string text)
    {
        var dir = Path.Combine(TestPaths.TempDir(), "gpt2");
        BpeTrainer.TrainToFolder(text, 300, dir);
        var vocabFile = Path.Combine(dir, BpeTrainer.VocabFile);
        var vocab = System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllText(vocabFile))!;
        vocab[ByteLevelBpeTokenizer.EndOfText] = vocab.Values.Max() + 1;
        File.WriteAllText(vocabFile, System.Text.Json.JsonSerializer.Serialize(vocab));
        var init = CliHarness.Run("--threads", "1", "init", "--arch", "gpt2", "--preset", "tiny", "--tokenizer", "none", "--vocab-size", vocab.Count.ToString(), "--force", "--out", dir);
        Assert.True(init.ExitCode == 0, init.ToString());
        return dir;
    }

    static string WriteJsonl(string path, IEnumerable<GenerationExample> rows)
    {
        File.WriteAllLines(path, rows.Select(r => new JsonObject { ["prompt"] = r.Prompt, ["target"] = r.Target }.ToJsonString()));
        return path;
    }

    [Fact]
    public void CliLoraRunWritesMetricsPredictionsAndAMergedModelThatDecodesTheSame()
    {
        using var scope = NewDisposeScope();
        using var one = new SingleThread();
        var (data, _) = Lookup(16);
        var model = TinyGpt2Folder(string.Join("\n", data.Train.Select(e => e.Prompt + " " + e.Target)));
        var root = Path.GetDirectoryName(model)!;
        var train = WriteJsonl(Path.Combine(root, "train.jsonl"), data.Train);
        var test = WriteJsonl(Path.Combine(root, "test.jsonl"), data.Test);
        var run = Path.Combine(root, "run");
        var r = CliHarness.Run("--threads", "1", "finetune", "--model", model, "--task-type", "generation", "--train", train, "--dev", train, "--test", test,
            "--method", "lora", "--rank", "4", "--lr", "1e-2", "--max-steps", "12", "--batch-size", "8", "--max-new-tokens", "8",
            "--decode", "beam", "--beams", "2", "--max-length", "48", "--no-progress", "--out", run);
        Assert.True(r.ExitCode == 0, r.ToString());

        var metrics = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "metrics.json")))!.AsObject();
        Assert.Equal("generation", (string?)metrics["task_type"]);
        Assert.Equal("beam", (string?)metrics["decode"]!["mode"]);
        foreach (var split in new[] { "dev", "test" })
        {
            Assert.InRange((double)metrics[split]!["bleu"]!, 0, 1);
            Assert.InRange((double)metrics[split]!["rougeL"]!, 0, 1);
            Assert.True((double)metrics[split]!["perplexity"]! > 1);
        }
        Assert.True((long)metrics["trainable_parameters"]! > 0);
        Assert.True((long)metrics["optimizer_state_bytes"]! == 8 * (long)metrics["trainable_parameters"]!);
        Assert.True((long)metrics["peak_rss_bytes"]! > 0);
        Assert.True((double)metrics["examples_per_second"]! > 0);

        var dev = File.ReadAllLines(Path.Combine(run, "predictions-dev.jsonl")).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal(data.Train.Count, dev.Count);
        Assert.Equal(data.Train[0].Target, (string?)dev[0]["reference"]);
        Assert.Equal(8, File.ReadAllLines(Path.Combine(run, "predictions-test.jsonl")).Length);

        // RUN/model is a plain GPT-2 (LoRA merged) with the tokenizer: it must decode what the adapted model decoded.
        Assert.True(File.Exists(Path.Combine(run, "model", "merges.txt")));
        using var merged = (ICausalLanguageModel)ModelSource.Load(Path.Combine(run, "model"));
        merged.Module.eval();
        var tokenizer = TokenizerFactory.Load(Path.Combine(run, "model"));
        var task = new GenerationTrainingTask(merged, new GenerationEncoder(tokenizer, 48), data,
            new GenerationDecoding { Mode = "beam", Beams = 2, MaxNewTokens = 8 });
        using (no_grad())
            foreach (var p in dev.Take(4))
                Assert.Equal((string?)p["hypothesis"], task.Generate((string)p["prompt"]!));
    }

    [Fact]
    public void FusedGpt2TrainsWithFrozenClusterSizesAndKeepsThemInTheMergedModel()
    {
        using var scope = NewDisposeScope();
        using var one = new SingleThread();
        var (data, _) = Lookup(8);
        var tiny = TinyGpt2Folder(string.Join("\n", data.Train.Select(e => e.Prompt + " " + e.Target)));
        var root = Path.GetDirectoryName(tiny)!;
        var fused = Path.Combine(root, "fused");
        var c = CliHarness.Run("--threads", "1", "compress", "--model", tiny, "--method", "fusion", "--ratio", "0.25", "--ntk-samples", "0", "--out", fused);
        Assert.True(c.ExitCode == 0, c.ToString());
        var train = WriteJsonl(Path.Combine(root, "train.jsonl"), data.Train);
        var run = Path.Combine(root, "run");
        var r = CliHarness.Run("--threads", "1", "finetune", "--model", fused, "--task-type", "generation", "--train", train, "--dev", train,
            "--method", "lora", "--max-steps", "3", "--batch-size", "4", "--max-new-tokens", "4", "--no-progress", "--out", run);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(MlpKit.Compression.FusionCounts.Load(fused).Keys.Order(), MlpKit.Compression.FusionCounts.Load(Path.Combine(run, "model")).Keys.Order());
        using var merged = ModelSource.Load(Path.Combine(run, "model"));
        Assert.Equal("gpt2", merged.Architecture);
    }

    [AssetFact("wordnet")]
    public void WordNetGlossPairsLemmasWithTheirDefinitionsInFixedSplits()
    {
        var task = GenerationTasks.Load(GenerationTasks.WordNetGlossTask, TestPaths.Asset("wordnet"));
        // Counted independently by a Python reading of the WNDB files with the same hash split (SHA-256 of "pos:offset").
        Assert.Equal((93907, 11829, 11923), (task.Train.Count, task.Dev.Count, task.Test.Count));
        // n:02084071 falls in bucket 82 (dev); its gloss's definition stops before the first example quote.
        Assert.Contains(new GenerationExample("dog (noun):",
            "a member of the genus Canis (probably descended from the common wolf) that has been domesticated by man since prehistoric times; occurs in many breeds"), task.Dev);
        // Adjective markers such as "(a)" are not part of the lemma.
        Assert.Contains(task.Train.Concat(task.Dev).Concat(task.Test), e => e.Prompt == "outback (adjective):");
        Assert.DoesNotContain(task.Train, e => e.Prompt.Contains("(a)") || e.Target.StartsWith('"') || e.Target.Length == 0);
    }

    [Fact]
    public void BadColumnsAndEmptyTargetsNameTheFileAndLine()
    {
        var root = TestPaths.TempDir();
        var good = Path.Combine(root, "good.tsv");
        File.WriteAllText(good, "prompt\ttarget\na\tb\n");
        var noTarget = Path.Combine(root, "no-target.tsv");
        File.WriteAllText(noTarget, "prompt\tanswer\na\tb\n");
        var ex = Assert.Throws<MlpKitException>(() => GenerationTasks.LoadFiles(noTarget, good));
        Assert.Contains("no-target.tsv", ex.Message);
        Assert.Contains("line 1", ex.Message);
        Assert.Contains("'target'", ex.Message);

        var empty = Path.Combine(root, "empty.jsonl");
        File.WriteAllLines(empty, ["{\"prompt\": \"a\", \"target\": \"b\"}", "{\"prompt\": \"c\", \"target\": \"d\"}", "{\"prompt\": \"e\", \"target\": \" \"}"]);
        ex = Assert.Throws<MlpKitException>(() => GenerationTasks.LoadFiles(good, empty));
        Assert.Contains("empty.jsonl: line 3: target", ex.Message);

        var missing = Path.Combine(root, "missing.jsonl");
        File.WriteAllLines(missing, ["{\"prompt\": \"a\", \"target\": \"b\"}", "{\"question\": \"c\", \"target\": \"d\"}"]);
        ex = Assert.Throws<MlpKitException>(() => GenerationTasks.LoadFiles(good, missing));
        Assert.Contains("missing.jsonl: line 2", ex.Message);
        Assert.Contains("'prompt'", ex.Message);

        // Renamed columns are read; through the CLI a bad one is a one-line user error naming file and line.
        var renamed = Path.Combine(root, "renamed.tsv");
        File.WriteAllText(renamed, "question\tanswer\nwhat\tthat\n");
        var task = GenerationTasks.LoadFiles(renamed, renamed, promptColumn: "question", targetColumn: "answer");
        Assert.Equal(new GenerationExample("what", "that", 2), task.Train[0]);
        var r = CliHarness.Run("finetune", "--model", root, "--task-type", "generation", "--train", noTarget, "--dev", good, "--out", Path.Combine(root, "run"));
        CliHarness.AssertUserError(r, "no-target.tsv", "line 1", "'target'");
    }
}
