using System.CommandLine;
using System.Globalization;
using MlpKit.Ntk;
using TorchSharp;
using static TorchSharp.torch;

namespace MlpKit.Cli.Commands;

/// <summary>`mlpkit ntk --model A [--ref B] [--data FILE] --samples N`: see <see cref="NtkRun"/>.</summary>
public static class NtkCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model", "-m") { Description = "Model directory or a named model", Required = true };
        var reference = new Option<string?>("--ref") { Description = "Reference model (e.g. the uncompressed one)" };
        var data = new Option<string?>("--data") { Description = "Examples, one per line (default: built-in State of the Union sentences for models with a tokenizer, random ids otherwise)" };
        var samples = new Option<int>("--samples", "-n") { Description = "Number of examples N (kernel is N×N)", DefaultValueFactory = _ => 32 };
        var layers = new Option<string>("--layers") { Description = "Whose MLP parameters: all, or layer indices such as 0", DefaultValueFactory = _ => "all" };
        var kindOpt = new Option<string>("--kind") { Description = "sign (Adam kernel, the paper's) or sgd", DefaultValueFactory = _ => "sign" };
        kindOpt.AcceptOnlyFromAmong("sign", "sgd");
        var prms = new Option<string>("--params") { Description = "mlp (fast path) or all (every parameter, one backward pass per example)", DefaultValueFactory = _ => "mlp" };
        prms.AcceptOnlyFromAmong("mlp", "all");
        var format = new Option<string>("--input-format") { Description = "Lines are text or token ids; auto: text when the model has a tokenizer", DefaultValueFactory = _ => "auto" };
        format.AcceptOnlyFromAmong("auto", "text", "ids");
        var command = new Command("ntk", "Empirical NTK of a model's MLP parameters and its distance to a reference model's")
        {
            model, reference, data, samples, layers, kindOpt, prms, format,
        };
        CliRun.SetAction(command, ctx =>
        {
            ctx.InitTorch();
            var spec = new NtkSpec
            {
                Model = ctx.Get(model), Reference = ctx.GetOrNull(reference), Data = ctx.GetOrNull(data), Samples = ctx.Get(samples),
                Layers = CliValues.Layers(ctx.Get(layers)), Kind = ctx.Get(kindOpt) == "sgd" ? NtkKind.Sgd : NtkKind.Sign,
                AllParameters = ctx.Get(prms) == "all", Format = ExampleOptions.ParseFormat(ctx.Get(format)), Seed = ctx.Seed,
            };
            string F(double v) => v.ToString("G6", CultureInfo.InvariantCulture);
            using var a = NtkRun.Measure(spec, spec.Model).Kernel;
            Console.Error.WriteLine($"{spec.Model}: {a.shape[0]}x{a.shape[0]} kernel");
            Console.Out.WriteLine($"kernel ({ctx.Get(kindOpt)}): N={a.shape[0]}, ||K||_F={F(a.square().sum().sqrt().ToDouble())}, trace={F(a.trace().ToDouble())}");
            if (spec.Reference is { } refSpec)
            {
                using var b = NtkRun.Measure(spec, refSpec).Kernel;
                Console.Out.WriteLine($"reference ||K_ref||_F={F(b.square().sum().sqrt().ToDouble())}");
                Console.Out.WriteLine($"ntk error: relative {F(NtkDistance.Relative(a, b))} (||K-K_ref||_F/||K_ref||_F), absolute {F(NtkDistance.Absolute(a, b))}");
            }
            return CliRun.Ok;
        });
        return command;
    }
}
