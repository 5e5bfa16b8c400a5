using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MlpKit.Models;
using MlpKit.Models.Bert;
using TorchSharp;
using static TorchSharp.torch;

namespace MlpKit.Onnx;

/// <summary>The outcome of `mlpkit export --format onnx`.</summary>
/// <param name="Path">The written file.</param>
/// <param name="Bytes">Its size.</param>
/// <param name="FfnWidths">Each layer's feed-forward width.</param>
/// <param name="MaxAbsDiff">Largest |ONNX Runtime − MlpKit| on the last hidden state of a padded probe batch.</param>
public sealed record OnnxExportResult(string Path, long Bytes, double MaxAbsDiff, IReadOnlyList<long> FfnWidths);

/// <summary>
/// Exports a BERT-family checkpoint to ONNX and checks the written file by running it in ONNX Runtime on a
/// padded probe batch against MlpKit's own forward: an export that does not reproduce the model is an error.
/// </summary>
public static class OnnxExportRun
{
    public const double Tolerance = 1e-4;

    public static OnnxExportResult Run(string modelSpec, string outPath)
    {
        if (Directory.Exists(outPath)) throw new MlpKitException($"{outPath}: is a folder; --out names the .onnx file to write");
        using var loaded = ModelSource.Load(modelSpec);
        if (loaded is not BertModel bert)
            throw new MlpKitException($"--model {modelSpec}: a {loaded.Architecture} model; ONNX export supports BERT encoders (MiniLM, Arctic-xs, zoo bert checkpoints)");
        BertOnnxExport.Write(bert, outPath);
        double diff = Verify(bert, outPath);
        if (!(diff <= Tolerance))
            throw new MlpKitException($"{outPath}: ONNX Runtime's output differs from MlpKit's by {diff:G3} (tolerance {Tolerance}); the export is wrong, please report it");
        return new OnnxExportResult(outPath, new FileInfo(outPath).Length, diff, bert.FeedForwards.Select(f => f.HiddenDim).ToArray());
    }

    /// <summary>Max |ORT − MlpKit| over the real tokens of a seeded, padded batch of random ids.</summary>
    public static double Verify(IEncoderModel model, string onnxPath)
    {
        var rng = new Random(12345);
        long vocab = model.VocabSize;
        int[] lengths = [11, 7, 1];
        int t = lengths.Max();
        var ids = new long[lengths.Length, t];
        var mask = new long[lengths.Length, t];
        for (int i = 0; i < lengths.Length; i++)
            for (int j = 0; j < lengths[i]; j++) { ids[i, j] = rng.NextInt64(vocab); mask[i, j] = 1; }
        var ort = RunOrt(onnxPath, ids, mask);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var idT = tensor(ids.Cast<long>().ToArray(), [lengths.Length, t]);
        var maskT = tensor(mask.Cast<long>().ToArray(), [lengths.Length, t]);
        var ours = model.Encode(idT, maskT).cpu();
        var theirs = tensor(ort, ours.shape);
        return ((ours - theirs).abs() * maskT.unsqueeze(-1)).max().ToDouble();
    }

    /// <summary>ONNX Runtime's last_hidden_state [B, T, H] (flattened) for ids and mask [B, T], token types 0.</summary>
    public static float[] RunOrt(string onnxPath, long[,] ids, long[,] mask, InferenceSession? session = null)
    {
        var own = session is null;
        session ??= new InferenceSession(onnxPath);
        try
        {
            int b = ids.GetLength(0), t = ids.GetLength(1);
            var inputs = new List<NamedOnnxValue>();
            foreach (var name in session.InputMetadata.Keys)
            {
                var d = new DenseTensor<long>([b, t]);
                for (int i = 0; i < b; i++)
                    for (int j = 0; j < t; j++)
                        d[i, j] = name switch { "input_ids" => ids[i, j], "attention_mask" => mask[i, j], _ => 0 };
                inputs.Add(NamedOnnxValue.CreateFromTensor(name, d));
            }
            using var results = session.Run(inputs, ["last_hidden_state"]);
            return results.First().AsEnumerable<float>().ToArray();
        }
        finally
        {
            if (own) session.Dispose();
        }
    }
}
