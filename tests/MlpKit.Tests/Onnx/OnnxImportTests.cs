using MlpKit.Embeddings;
using MlpKit.Models;
using MlpKit.Onnx;
using MlpKit.Tests.Support;
using MlpKit.Tokenizers;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MlpKit.Tests.Onnx;

public class OnnxImportTests(Xunit.Abstractions.ITestOutputHelper output)
{
    static string Fixture(string name) => TestPaths.Fixture("onnx", name);

    // Two sequences of different lengths: the second is padded, so the mask path is compared too.
    static readonly long[,] Ids = { { 2, 17, 5, 9, 33, 41, 3 }, { 2, 8, 60, 3, 0, 0, 0 } };
    static readonly long[,] Mask = { { 1, 1, 1, 1, 1, 1, 1 }, { 1, 1, 1, 1, 0, 0, 0 } };

    static Tensor T(long[,] a) => tensor(a.Cast<long>().ToArray(), [a.GetLength(0), a.GetLength(1)]);

    /// <summary>Max |ours - ORT| over the real (unmasked) tokens.</summary>
    static double MaxDiffAtTokens(Tensor ours, float[] ort, long[,] mask)
    {
        var theirs = tensor(ort, ours.shape);
        var m = T(mask).unsqueeze(-1).to(ScalarType.Float32);
        return ((ours - theirs).abs() * m).max().ToDouble();
    }

    [Fact]
    public void ImportedTinyBertMatchesOnnxRuntime()
    {
        var dir = Path.Combine(TestPaths.TempDir(), "tiny");
        var config = OnnxImportRun.ToDirectory(Fixture("tiny-bert.onnx"), dir, new OnnxImportOptions());
        Assert.Equal(4, config.GetInt("num_attention_heads"));
        Assert.Equal(2, config.GetInt("num_hidden_layers"));
        Assert.Equal("gelu", config.GetString("hidden_act"));
        using var model = (IEncoderModel)ModelZoo.Load(dir);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var ours = model.Encode(T(Ids), T(Mask));
        var diff = MaxDiffAtTokens(ours, OnnxExportRun.RunOrt(Fixture("tiny-bert.onnx"), Ids, Mask), Mask);
        output.WriteLine($"max abs diff vs ONNX Runtime: {diff:G3}");
        Assert.True(diff <= 1e-4, $"max abs diff {diff}");
    }

    [Fact]
    public void ImportedNamesFollowTheGraphNotTheNameOrder()
    {
        // Shuffle the order of the initializers: a name-order mapping would pair weights wrongly, the graph does not.
        var model = OnnxFile.Read(Fixture("tiny-bert.onnx"));
        var shuffled = model.Graph.Initializer.OrderBy(i => (i.Name.GetHashCode() * 31) ^ 0x5bd1e995).ToList();
        model.Graph.Initializer.Clear();
        model.Graph.Initializer.AddRange(shuffled);
        var path = Path.Combine(TestPaths.TempDir(), "shuffled.onnx");
        OnnxFile.Write(path, model);
        using var a = BertOnnxImport.Import(Fixture("tiny-bert.onnx"));
        using var b = BertOnnxImport.Import(path);
        Assert.Equal(a.Tensors.Keys.Order(), b.Tensors.Keys.Order());
        foreach (var (name, t) in a.Tensors) Assert.True(t.equal(b.Tensors[name]).all().ToBoolean(), name);
    }

    [Theory]
    [InlineData("unmappable.onnx", "initializer onnx::MatMul_", "feeds no Add with an initializer named X.bias")]
    [InlineData("not-bert.onnx", "graph", "not a BERT-family encoder")]
    public void UnmappableOnnxIsOneLineNamingTheInitializer(string file, string field, string problem)
    {
        var outDir = Path.Combine(TestPaths.TempDir(), "out");
        var r = CliHarness.Run("import", "--onnx", Fixture(file), "--out", outDir);
        CliHarness.AssertUserError(r, Fixture(file), field, problem);
        Assert.False(Directory.Exists(outDir));
        Assert.Empty(Directory.GetFileSystemEntries(Path.GetDirectoryName(outDir)!));
    }

    [Fact]
    public void TruncatedOrForeignFileIsOneLine()
    {
        var dir = TestPaths.TempDir();
        var bytes = File.ReadAllBytes(Fixture("tiny-bert.onnx"));
        var truncated = Path.Combine(dir, "truncated.onnx");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        var text = Path.Combine(dir, "text.onnx");
        File.WriteAllText(text, "this is not an onnx model\n");
        foreach (var file in new[] { truncated, text })
        {
            var r = CliHarness.Run("import", "--onnx", file, "--out", Path.Combine(dir, "out"));
            CliHarness.AssertUserError(r, file);
            Assert.False(Directory.Exists(Path.Combine(dir, "out")));
        }
    }

    [AssetFact("minilm")]
    public void MiniLmMatchesOnnxRuntimeOnPaddedBatches() => MatchesOnnxRuntime("minilm", PoolingMode.Mean);

    [AssetFact("arctic-xs")]
    public void ArcticXsMatchesOnnxRuntimeOnPaddedBatches() => MatchesOnnxRuntime("arctic-xs", PoolingMode.Cls);

    void MatchesOnnxRuntime(string name, PoolingMode pooling)
    {
        var asset = TestPaths.Asset(name);
        var onnx = Path.Combine(asset, "onnx", "model.onnx");
        using var model = (IEncoderModel)ModelZoo.Load(asset);
        var tok = TokenizerFactory.Load(asset);
        string[] sentences = ["A man is eating food.", "The quick brown fox jumps over the lazy dog near the river bank.", "Hi"];
        var seqs = sentences.Select(s => tok.EncodePair(s).Ids).ToArray();
        int t = seqs.Max(s => s.Length);
        var ids = new long[seqs.Length, t];
        var mask = new long[seqs.Length, t];
        for (int i = 0; i < seqs.Length; i++)
            for (int j = 0; j < seqs[i].Length; j++) { ids[i, j] = seqs[i][j]; mask[i, j] = 1; }
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var ours = model.Encode(T(ids), T(mask));
        var ort = OnnxExportRun.RunOrt(onnx, ids, mask);
        var diff = MaxDiffAtTokens(ours, ort, mask);
        output.WriteLine($"{name} last hidden state, max abs diff vs ONNX Runtime: {diff:G3}");
        Assert.True(diff <= 1e-4, $"max abs diff {diff}");

        // The sentence embedding (ORT's last hidden state pooled as the model's sentence-transformers config
        // says: MiniLM mask-mean, Arctic the CLS token; then L2-normalised) against `embed`'s.
        var reference = Pooling.Pool(tensor(ort, ours.shape), T(mask), pooling, normalize: true);
        using var encoder = SentenceEncoders.Open(asset);
        var embedded = encoder.Encoder.Embed(sentences);
        var cos = nn.functional.cosine_similarity(embedded, reference, 1);
        output.WriteLine($"cosine to the ORT pipeline: min {cos.min().ToDouble():F8}");
        Assert.True(cos.min().ToDouble() >= 0.9999);
    }
}
