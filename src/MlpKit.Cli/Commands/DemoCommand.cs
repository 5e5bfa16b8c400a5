using System.CommandLine;
using System.Globalization;
using MlpKit.Embeddings;
using static TorchSharp.torch;

namespace MlpKit.Cli.Commands;

/// <summary>
/// `mlpkit demo`: the main job on built-in defaults, on the sentence encoder .NET users already run
/// (all-MiniLM-L6-v2, from its NuGet package): compress its feed-forward blocks with the recommended method,
/// compare it with the paper's MLP Fusion and activation pruning on held-out text (embedding cosine to the original, output and NTK error),
/// export the compressed model to ONNX (checked in ONNX Runtime), and embed sentences with both. Every step is
/// an ordinary command (shown as it runs) so the user can repeat or vary it.
/// </summary>
public static class DemoCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out", "-o") { Description = "Folder for the demo's checkpoint, ONNX file, reports and plot", DefaultValueFactory = _ => Path.Combine("runs", "demo") }.OutputFolder();
        var model = new Option<string>("--model", "-m") { Description = "Sentence encoder to compress (minilm, arctic-xs, use-lite or a folder)", DefaultValueFactory = _ => "minilm" };
        var ratio = new Option<double>("--ratio") { Description = "Fraction of each FFN's hidden neurons kept", DefaultValueFactory = _ => 0.5 };
        var methods = new Option<string>("--methods") { Description = "Methods compared at that ratio", DefaultValueFactory = _ => "prune-obs,fusion,prune-act" };
        var command = new Command("demo", "Run MlpKit's main job on built-in defaults: compress the real all-MiniLM-L6-v2 encoder's FFNs, compare with the paper's MLP Fusion and activation pruning, export to ONNX")
        {
            output, model, ratio, methods,
        };
        CliRun.SetAction(command, ctx =>
        {
            ctx.InitTorch();
            var dir = ctx.Get(output);
            var m = ctx.Get(model);
            Directory.CreateDirectory(dir);
            var r = ctx.Get(ratio).ToString(CultureInfo.InvariantCulture);
            var common = new List<string> { "--seed", ctx.Seed.ToString(CultureInfo.InvariantCulture), "--threads", ctx.Threads.ToString(CultureInfo.InvariantCulture) };

            Step(1, $"the model: {m} (real pretrained weights, fetched on first use)");
            Run(["info", "--model", m]);

            var fused = Path.Combine(dir, $"{m}-compressed");
            Step(2, $"compress every FFN with the default method ({MlpKit.Compression.CompressionMethods.Recommended}: least-squares neuron pruning), keeping {r} of the neurons (calibration: built-in State of the Union sentences)");
            Run(["compress", "--model", m, "--ratio", r, "--out", fused, "--report", Path.Combine(dir, "compress-report.json"), .. common]);

            Step(3, "against the paper's MLP Fusion and activation pruning, at that width and at half of it, on held-out sentences: output error, embedding cosine to the original, NTK error");
            var half = (ctx.Get(ratio) / 2).ToString(CultureInfo.InvariantCulture);
            Run(["compress", "--model", m, "--sweep", $"{half},{r}", "--methods", ctx.Get(methods), "--ntk-samples", "16", "--heldout-samples", "100", "--calib-samples", "128",
                 "--report", Path.Combine(dir, "sweep-report.json"), "--plot", Path.Combine(dir, "sweep.png"), .. common]);

            if (m != "use-lite")
            {
                Step(4, "export the compressed encoder to ONNX (same inputs and outputs as the original; checked in ONNX Runtime)");
                Run(["export", "--format", "onnx", "--model", fused, "--out", Path.Combine(dir, $"{m}-compressed.onnx")]);
            }

            Step(5, "embed sentences with the original and the compressed model");
            CompareEmbeddings(m, fused);
            Console.WriteLine();
            Console.WriteLine($"done: checkpoint {fused}, reports, plot and ONNX file in {dir}");
            return CliRun.Ok;
        });
        return command;
    }

    static void Step(int n, string what)
    {
        Console.WriteLine();
        Console.WriteLine($"== {n}/5 {what}");
    }

    static void Run(string[] args)
    {
        Console.WriteLine("$ mlpkit " + string.Join(' ', args.Select(a => a.Contains(' ') ? $"\"{a}\"" : a)));
        var code = Program.Run(args);
        if (code != CliRun.Ok) throw new MlpKitException($"demo: step 'mlpkit {args[0]}' failed with exit code {code}");
    }

    static void CompareEmbeddings(string original, string compressed)
    {
        string[] sentences =
        [
            "The quick brown fox jumps over the lazy dog.",
            "Compressing a model should keep what it has learned.",
            "Stock markets fell sharply on Monday.",
            "How do I reset my password?",
        ];
        using var a = SentenceEncoders.Open(original);
        using var b = SentenceEncoders.Open(compressed);
        using var scope = NewDisposeScope();
        var cos = nn.functional.cosine_similarity(a.Encoder.Embed(sentences), b.Encoder.Embed(sentences), dim: 1);
        for (int i = 0; i < sentences.Length; i++)
            Console.WriteLine($"  cosine(original, compressed) = {cos[i].item<float>():F3}   {sentences[i]}");
        Console.WriteLine($"  parameters: {Count(a.Model.Module):N0} -> {Count(b.Model.Module):N0}");
    }

    static long Count(nn.Module m) => m.parameters().Sum(p => p.numel());
}
