using System.Text.Json.Nodes;
using MlpKit.Models;
using MlpKit.Onnx;
using MlpKit.Tests.Support;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MlpKit.Tests.Onnx;

public class OnnxExportTests(Xunit.Abstractions.ITestOutputHelper output)
{
    static readonly string[] Vocab =
        ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "quick", "brown", "fox", "hello", ",", "!", ".", "world", "##s", "jump", "over", "lazy", "dog", "a"];

    /// <summary>The tiny BERT fixture imported with a small vocabulary and mean pooling: a sentence encoder folder.</summary>
    internal static string TinyEncoder()
    {
        var root = TestPaths.TempDir();
        var vocab = Path.Combine(root, "vocab.txt");
        File.WriteAllLines(vocab, Vocab);
        var dir = Path.Combine(root, "tiny");
        OnnxImportRun.ToDirectory(TestPaths.Fixture("onnx", "tiny-bert.onnx"), dir,
            new OnnxImportOptions(vocab, true, new MlpKit.Embeddings.SentencePooling(MlpKit.Embeddings.PoolingMode.Mean, true, 32)));
        return dir;
    }

    static string Lines(params string[] lines)
    {
        var path = Path.Combine(TestPaths.TempDir(), "lines.txt");
        File.WriteAllLines(path, lines);
        return path;
    }

    [Fact]
    public void CompressedEncoderExportsAndRunsInOnnxRuntimeLikeMlpKit()
    {
        var src = TinyEncoder();
        var calib = Lines("the quick brown fox", "hello , world !", "a lazy dog jumps over the fox .", "the dogs", "hello fox");
        var compressed = Path.Combine(TestPaths.TempDir(), "c");
        var c = CliHarness.Run("compress", "--model", src, "--method", "prune", "--ratio", "0.5", "--layers", "0", "--calib", calib, "--heldout", calib,
            "--ntk-samples", "0", "--out", compressed, "--threads", "1");
        Assert.True(c.ExitCode == 0, c.ToString());
        var onnx = Path.Combine(TestPaths.TempDir(), "c.onnx");
        var r = CliHarness.Run("export", "--format", "onnx", "--model", compressed, "--out", onnx);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("FFN widths 24,48", r.Stdout);

        using var model = (IEncoderModel)ModelZoo.Load(compressed);
        double diff = OnnxExportRun.Verify(model, onnx);   // ORT on a padded random batch vs MlpKit
        output.WriteLine($"exported compressed model: max abs diff {diff:G3}");
        Assert.True(diff <= 1e-4, $"diff {diff}");

        // The sentence-transformers interface: the same input and output names as the original export.
        var original = OnnxFile.Read(TestPaths.Fixture("onnx", "tiny-bert.onnx")).Graph;
        var exported = OnnxFile.Read(onnx).Graph;
        Assert.Equal(original.Input.Select(i => i.Name).Order(), exported.Input.Select(i => i.Name).Order());
        Assert.Equal("last_hidden_state", exported.Output.Single().Name);

        // The importer reads our export back to the same weights.
        using var back = BertOnnxImport.Import(onnx);
        using var scope = NewDisposeScope();
        // (The pooler is not part of last_hidden_state, so it is not exported.)
        var mine = HfTensorBinding.Export(model.Module, model.NameMap()).Where(kv => !kv.Key.StartsWith("pooler.")).ToDictionary();
        Assert.Equal(mine.Keys.Order(), back.Tensors.Keys.Order());
        foreach (var (name, t) in mine) Assert.True(t.allclose(back.Tensors[name]), name);
        Assert.Equal(new long[] { 24, 48 }, back.Config.GetIntArray("mlpkit_intermediate_sizes").Select(i => (long)i));
    }

    [Fact]
    public void ExportOfADecoderIsAOneLineError()
    {
        var outPath = Path.Combine(TestPaths.TempDir(), "g.onnx");
        CliHarness.AssertUserError(CliHarness.Run("export", "--model", TestPaths.Fixture("zoo", "gpt2"), "--out", outPath), "gpt2", "BERT");
        Assert.False(File.Exists(outPath));
    }

    [Fact]
    public void EmbedWritesOneNormalisedVectorPerLineAndRefusesBadUtf8()
    {
        var src = TinyEncoder();
        var input = Lines("the quick brown fox", "", "hello , world !");
        var outFile = Path.Combine(TestPaths.TempDir(), "e.jsonl");
        var r = CliHarness.Run("embed", "--model", src, "--input", input, "--out", outFile);
        Assert.True(r.ExitCode == 0, r.ToString());
        var rows = File.ReadAllLines(outFile).Select(l => JsonNode.Parse(l)!).ToArray();
        Assert.Equal(["the quick brown fox", "hello , world !"], rows.Select(x => x["text"]!.GetValue<string>()));
        foreach (var row in rows)
        {
            var v = row["embedding"]!.AsArray().Select(x => x!.GetValue<double>()).ToArray();
            Assert.Equal(32, v.Length);
            Assert.Equal(1.0, Math.Sqrt(v.Sum(x => x * x)), 4);
        }
        // --pooling cls without normalisation: the first token's state, a different vector.
        var cls = Path.Combine(TestPaths.TempDir(), "cls.jsonl");
        Assert.Equal(0, CliHarness.Run("embed", "--model", src, "--input", input, "--out", cls, "--pooling", "cls", "--normalize", "false").ExitCode);
        Assert.NotEqual(File.ReadAllLines(outFile)[0], File.ReadAllLines(cls)[0]);

        var bad = Path.Combine(TestPaths.TempDir(), "bad.txt");
        File.WriteAllBytes(bad, [.. "fine\n"u8, 0xC3, 0x28, (byte)'\n']);
        var badOut = Path.Combine(TestPaths.TempDir(), "bad.jsonl");
        CliHarness.AssertUserError(CliHarness.Run("embed", "--model", src, "--input", bad, "--out", badOut), bad, "line 2", "UTF-8");
        Assert.False(File.Exists(badOut));
    }

    [Fact]
    public void CompressReportsHeldOutEmbeddingCosine()
    {
        var src = TinyEncoder();
        var calib = Lines("the quick brown fox", "hello , world !", "a lazy dog jumps over the fox .");
        var held = Lines("the lazy fox", "hello dog", "a brown world");
        var report = Path.Combine(TestPaths.TempDir(), "r.json");
        var r = CliHarness.Run("compress", "--model", src, "--method", "prune", "--ratio", "0.5", "--calib", calib, "--heldout", held,
            "--ntk-samples", "0", "--out", Path.Combine(TestPaths.TempDir(), "o"), "--report", report, "--threads", "1");
        Assert.True(r.ExitCode == 0, r.ToString());
        var json = JsonNode.Parse(File.ReadAllText(report))!;
        Assert.Equal(3, json["heldout_examples"]!.GetValue<int>());
        Assert.StartsWith("sentence embedding (mean pooling", json["output"]!.GetValue<string>());
        double cos = json["heldout_cosine"]!.GetValue<double>(), err = json["heldout_output_error"]!.GetValue<double>();
        Assert.InRange(cos, -1, 0.999999);   // half the neurons gone: not the same embedding
        Assert.True(err > 0);
        // For unit vectors ||a-b||² = 2 - 2cos, so the two metrics must agree.
        Assert.InRange(err * err, 2 - 2 * cos - 0.05, 2 - 2 * cos + 0.05);
    }
}
