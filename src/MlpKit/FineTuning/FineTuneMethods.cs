using MlpKit.FineTuning.Full;
using MlpKit.FineTuning.FusionSparseGrad;
using MlpKit.FineTuning.Lora;
using MlpKit.FineTuning.MeProp;
using MlpKit.FineTuning.SparseGrad;

namespace MlpKit.FineTuning;

/// <summary>
/// A registered fine-tuning method: its name, the options it declares, its default learning rate (the strict protocol,
/// where only the method's parameters and the head train), and how to build it from name=value options.
/// </summary>
public sealed record FineTuneMethodEntry(string Name, IReadOnlyList<MethodOptionInfo> Options, double LearningRate,
    Func<IReadOnlyDictionary<string, string>?, IFineTuneMethod> Create);

/// <summary>The fine-tuning methods by name, so the CLI, experiments and tests can enumerate them (one line each).</summary>
public static class FineTuneMethods
{
    public static IReadOnlyList<FineTuneMethodEntry> All { get; } =
    [
        // Learning rates: see "Default learning rates" in FineTuning/README.md for where each comes from and the sweep
        // that checks it. Methods that train few parameters take larger steps.
        new("full", FullConfig.Options.Declared, 4e-4, o => new FullInjector(FullConfig.From(o))),
        new("lora", LoraConfig.Options.Declared, 8e-3, o => new LoraInjector(LoraConfig.From(o))),
        new("meprop", MePropConfig.Options.Declared, 1.6e-3, o => new MePropInjector(MePropConfig.From(o))),
        new("sparsegrad", SparseGradConfig.Options.Declared, 3.2e-2, o => new SparseGradInjector(SparseGradConfig.From(o))),
        new(FusionSparseGradConfig.MethodName, FusionSparseGradConfig.Options.Declared, 3.2e-2, o => new FusionSparseGradMethod(FusionSparseGradConfig.From(o))),
    ];

    /// <summary>
    /// The learning rate a run of <paramref name="method"/> uses when none is given: the method's own, or under
    /// train-rest full fine-tuning's, because there attention and embeddings train at that rate too (as in the
    /// SparseGrad paper, whose rates for every method are close to full fine-tuning's).
    /// </summary>
    public static double DefaultLearningRate(IFineTuneMethod method) =>
        method.TrainsRest ? Get("full").LearningRate : Get(method.Name).LearningRate;

    /// <summary>"full 1e-4, lora 2e-3, ..." for --help.</summary>
    public static string DescribeLearningRates() =>
        string.Join(", ", All.Select(m => $"{m.Name} {m.LearningRate.ToString("0.#e0", System.Globalization.CultureInfo.InvariantCulture)}"));

    public static IReadOnlyList<string> Names => All.Select(m => m.Name).ToList();

    public static FineTuneMethodEntry Get(string name) => All.FirstOrDefault(m => m.Name == name)
        ?? throw new MlpKitException($"--method {name}: unknown fine-tuning method (expected {string.Join(", ", Names)})");

    /// <summary>Builds the method; its options are parsed and checked here, so callers can do this before any long work.</summary>
    public static IFineTuneMethod Create(string name, IReadOnlyDictionary<string, string>? options = null) => Get(name).Create(options);

    /// <summary>Every option name any method declares, with the methods that declare it (for the CLI's flags).</summary>
    public static IReadOnlyList<(string Name, IReadOnlyList<MethodOptionInfo> Declarations)> OptionNames() =>
        All.SelectMany(m => m.Options).GroupBy(o => o.Name).Select(g => (g.Key, (IReadOnlyList<MethodOptionInfo>)g.ToList())).ToList();
}
