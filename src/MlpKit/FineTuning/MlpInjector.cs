using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlpKit.FineTuning;

/// <summary>
/// What every method's injector does the same way, as PEFT's BaseTuner: find the targeted MLP linears by the config's
/// regex, freeze the model except the config's train-also names (and what the method trains itself), and hand the
/// rest to the method. A method folder holds a config, a subclass of this and its layer.
/// </summary>
public abstract class MlpInjector<TConfig>(string name, TConfig config) : IFineTuneMethod where TConfig : FineTuneConfig
{
    public string Name => name;
    public TConfig Config { get; } = config;

    public abstract IFineTuneAdapter Inject(nn.Module model, FineTuneContext context);

    /// <summary>The MLP linears whose names match <paramref name="targets"/>; none is a user error naming the method.</summary>
    protected List<MlpLinear> Targets(nn.Module model, string targets) => MlpLinears.FindTargets(model, targets, Name);

    public bool TrainsRest => Config.TrainRest;

    /// <summary>
    /// Freezes every parameter except the train-also names, everything outside the MLP linears under train-rest, and
    /// those <paramref name="alsoTrain"/> accepts; returns the ones left trainable (dense AdamW).
    /// </summary>
    protected List<TrainableParameter> FreezeExcept(nn.Module model, Func<string, bool>? alsoTrain = null)
    {
        var also = Config.TrainAlsoRegex;
        var mlp = Config.TrainRest ? MlpLinears.ParameterNames(model) : null;
        return Freezing.Apply(model, (n, _) => also.IsMatch(n) || (mlp is not null && !mlp.Contains(n)) || alsoTrain?.Invoke(n) == true);
    }
}

/// <summary>
/// An adapter whose trainable state is dense parameters of the model itself, with forward hooks to remove on merge
/// (full fine-tuning has none, meProp one per linear): no sparse state, nothing beyond the model's state dict.
/// </summary>
public class DenseAdapter(string method, List<TrainableParameter> dense, IReadOnlyList<Linear.HookRemover>? hooks = null) : IFineTuneAdapter
{
    bool _removed;

    public string Method => method;
    public IReadOnlyList<TrainableParameter> DenseTrainable => dense;
    public IReadOnlyList<ISparseTrainable> SparseTrainable => [];
    public virtual MethodFootprint Footprint() => MethodFootprint.Dense(Method, dense);
    public virtual IReadOnlyDictionary<string, Tensor> StateTensors() => new Dictionary<string, Tensor>();
    public virtual void LoadStateTensors(IReadOnlyDictionary<string, Tensor> state) { }

    /// <summary>The weights already are the trained ones; merging only detaches the hooks.</summary>
    public virtual void Merge() => RemoveHooks();

    public virtual void Dispose()
    {
        RemoveHooks();
        GC.SuppressFinalize(this);
    }

    protected void RemoveHooks()
    {
        if (_removed) return;
        foreach (var h in hooks ?? []) h.remove();
        _removed = true;
    }
}
