using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace MlpKit.Tests.Onnx;

/// <summary>ONNX Runtime as the independent engine: runs a BERT-style ONNX file on id/mask batches.</summary>
internal static class OrtReference
{
    /// <summary>The first output ([B, T, H], flattened) for ids and masks [B, T]; token types are zeros.</summary>
    public static float[] Run(string onnxPath, long[,] ids, long[,] mask, string output = "last_hidden_state")
    {
        using var session = new InferenceSession(onnxPath);
        int b = ids.GetLength(0), t = ids.GetLength(1);
        DenseTensor<long> Make(Func<int, int, long> f)
        {
            var d = new DenseTensor<long>([b, t]);
            for (int i = 0; i < b; i++) for (int j = 0; j < t; j++) d[i, j] = f(i, j);
            return d;
        }
        var inputs = new List<NamedOnnxValue>();
        foreach (var meta in session.InputMetadata.Keys)
            inputs.Add(NamedOnnxValue.CreateFromTensor(meta, meta switch
            {
                "input_ids" => Make((i, j) => ids[i, j]),
                "attention_mask" => Make((i, j) => mask[i, j]),
                _ => Make((_, _) => 0),
            }));
        using var results = session.Run(inputs, [output]);
        return results.First().AsEnumerable<float>().ToArray();
    }
}
