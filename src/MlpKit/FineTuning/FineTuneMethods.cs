using MlpKit.FineTuning.Full;
using MlpKit.FineTuning.FusionSparseGrad;
using MlpKit.FineTuning.Lora;
using MlpKit.FineTuning.MeProp;
using MlpKit.FineTuning.SparseGrad;

namespace MlpKit.FineTuning;

/// <summary>A registered fine-tuning method: its name, the options it declares, and how to build it from name=value options.</summary>
public sealed record FineTuneMethodEntry(string Name, IReadOnlyList<MethodOptionInfo> Options, Func<IReadOnlyDictionary<string, string>?, IFineTuneMethod> Create);

/// <summary>The fine-tuning methods by name, so the CLI, experiments and tests can enumerate them (one line each).</summary>
public static class FineTuneMethods
{
    public static IReadOnlyList<FineTuneMethodEntry> All { get; } =
    [
        new("full", FullConfig.Options.Declared, o => new FullInjector(FullConfig.From(o))),
        new("lora", LoraConfig.Options.Declared, o => new LoraInjector(LoraConfig.From(o))),
        new("meprop", MePropConfig.Options.Declared, o => new MePropInjector(MePropConfig.From(o))),
        new("sparsegrad", SparseGradConfig.Options.Declared, o => new SparseGradInjector(SparseGradConfig.From(o))),
        new(FusionSparseGradConfig.MethodName, FusionSparseGradConfig.Options.Declared, o => new FusionSparseGradMethod(FusionSparseGradConfig.From(o))),
    ];

    public static IReadOnlyList<string> Names => All.Select(m => m.Name).ToList();

    public static FineTuneMethodEntry Get(string name) => All.FirstOrDefault(m => m.Name == name)
        ?? throw new MlpKitException($"--method {name}: unknown fine-tuning method (expected {string.Join(", ", Names)})");

    /// <summary>Builds the method; its options are parsed and checked here, so callers can do this before any long work.</summary>
    public static IFineTuneMethod Create(string name, IReadOnlyDictionary<string, string>? options = null) => Get(name).Create(options);

    /// <summary>Every option name any method declares, with the methods that declare it (for the CLI's flags).</summary>
    public static IReadOnlyList<(string Name, IReadOnlyList<MethodOptionInfo> Declarations)> OptionNames() =>
        All.SelectMany(m => m.Options).GroupBy(o => o.Name).Select(g => (g.Key, (IReadOnlyList<MethodOptionInfo>)g.ToList())).ToList();
}
