using MlpKit.FineTuning.Full;
using MlpKit.FineTuning.FusionSparseGrad;
using MlpKit.FineTuning.Lora;
using MlpKit.FineTuning.MeProp;
using MlpKit.FineTuning.SparseGrad;

namespace MlpKit.FineTuning;

/// <summary>The fine-tuning methods by name, so the CLI, experiments and tests can enumerate them.</summary>
public static class FineTuneMethods
{
    static readonly Dictionary<string, Func<IReadOnlyDictionary<string, string>?, IFineTuneMethod>> Registry = new(StringComparer.Ordinal)
    {
        ["full"] = o => new FullInjector(FullConfig.From(o)),
        ["lora"] = o => new LoraInjector(LoraConfig.From(o)),
        ["meprop"] = o => new MePropInjector(MePropConfig.From(o)),
        ["sparsegrad"] = o => new SparseGradInjector(SparseGradConfig.From(o)),
        [FusionSparseGradConfig.MethodName] = o => new FusionSparseGradMethod(FusionSparseGradConfig.From(o)),
    };

    public static IReadOnlyList<string> Names => Registry.Keys.ToList();

    public static IFineTuneMethod Create(string name, IReadOnlyDictionary<string, string>? options = null)
    {
        if (!Registry.TryGetValue(name, out var make))
            throw new MlpKitException($"--method {name}: unknown fine-tuning method (expected {string.Join(", ", Registry.Keys)})");
        return make(options);
    }
}
