using System.CommandLine;
using MlpKit.Compression;

namespace MlpKit.Cli;

/// <summary>The example-source options `compress` declares (calibration, held-out, counts, line format), read into <see cref="ExampleSources"/>.</summary>
public sealed class ExampleOptions
{
    public required Option<string?> Calib { get; init; }
    public required Option<string?> Heldout { get; init; }
    public required Option<int> CalibSamples { get; init; }
    public required Option<int> NtkSamples { get; init; }
    public required Option<int> HeldoutSamples { get; init; }
    public required Option<string> Format { get; init; }

    public static ExampleOptions Create(string calibWhat)
    {
        var format = new Option<string>("--input-format") { Description = "Lines are text (tokenized by the model's tokenizer) or token ids; auto: text when the model has a tokenizer", DefaultValueFactory = _ => "auto" };
        format.AcceptOnlyFromAmong("auto", "text", "ids");
        return new ExampleOptions
        {
            Calib = new Option<string?>("--calib") { Description = $"{calibWhat} (default: built-in State of the Union sentences for models with a tokenizer, random ids otherwise)" },
            Heldout = new Option<string?>("--heldout") { Description = "Held-out examples for the output error and cosine (default: built-in sentences from other speeches)" },
            CalibSamples = new Option<int>("--calib-samples") { Description = "Calibration examples used (the least-squares methods need more tokens than a block has neurons)", DefaultValueFactory = _ => 256 },
            NtkSamples = new Option<int>("--ntk-samples") { Description = "Examples for the NTK error (0 skips it)", DefaultValueFactory = _ => 32 },
            HeldoutSamples = new Option<int>("--heldout-samples") { Description = "Held-out examples (0 skips the held-out metrics)", DefaultValueFactory = _ => 200 },
            Format = format,
        };
    }

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { Calib, Heldout, CalibSamples, NtkSamples, HeldoutSamples, Format }) command.Options.Add(o);
    }

    public ExampleSources Read(CliContext ctx) => new(ctx.GetOrNull(Calib), ctx.GetOrNull(Heldout), ctx.Get(CalibSamples), ctx.Get(NtkSamples),
        ctx.Get(HeldoutSamples), ParseFormat(ctx.Get(Format)), ctx.Seed);

    public static ExampleFormat ParseFormat(string s) => s switch
    {
        "text" => ExampleFormat.Text,
        "ids" => ExampleFormat.Ids,
        _ => ExampleFormat.Auto,
    };
}
