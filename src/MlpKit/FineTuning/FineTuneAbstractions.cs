using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlpKit.FineTuning;

/// <summary>
/// A fine-tuning method (full, lora, meprop, sparsegrad): configured once, then injected into a model,
/// which it changes in place (freezing, hooks) and for which it returns the adapter the trainer drives.
/// </summary>
public interface IFineTuneMethod
{
    string Name { get; }
    /// <summary>Whether everything outside the MLP linears trains too (the train-rest protocol).</summary>
    bool TrainsRest { get; }
    IFineTuneAdapter Inject(nn.Module model, FineTuneContext context);
}

/// <summary>What a method may need besides the model while it is injected.</summary>
public sealed class FineTuneContext
{
    /// <summary>
    /// Yields the training loss (graph attached, model in train mode) of successive calibration batches.
    /// SparseGrad collects its gradients through it; the trainer supplies a stream that does not consume
    /// the training data position, so calibration never changes which batches training sees.
    /// </summary>
    public Func<int, IEnumerable<Tensor>>? CalibrationLosses { get; init; }

    /// <summary>Where a method's own long preparation (SparseGrad's calibration) reports progress; null: silent.</summary>
    public Action<string>? Progress { get; init; }

    /// <summary>The adapter's own saved state when resuming; a method rebuilds from it instead of recalibrating.</summary>
    public IReadOnlyDictionary<string, Tensor>? ResumeState { get; init; }
}

/// <summary>A parameter tensor the method trains with ordinary dense AdamW.</summary>
public sealed record TrainableParameter(string Name, Parameter Parameter, bool IsMlp)
{
    /// <summary>Decoupled weight decay applies to matrices, not to biases and norm gains (the BERT convention).</summary>
    public bool Decays => Parameter.dim() >= 2;
}

/// <summary>
/// An injected method. Dense trainables go to the trainer's AdamW; sparse ones (SparseGrad) carry their
/// own gradient and optimizer state and are stepped through <see cref="ISparseTrainable"/>.
/// </summary>
public interface IFineTuneAdapter : IDisposable
{
    string Method { get; }
    IReadOnlyList<TrainableParameter> DenseTrainable { get; }
    IReadOnlyList<ISparseTrainable> SparseTrainable { get; }

    /// <summary>Parameter counts and bytes, for reports and the memory benchmark.</summary>
    MethodFootprint Footprint();

    /// <summary>Everything the method owns beyond the model's own state dict (adapters, sparse state), for checkpoints.</summary>
    IReadOnlyDictionary<string, Tensor> StateTensors();

    /// <summary>Loads what <see cref="StateTensors"/> returned (values copied into the live tensors).</summary>
    void LoadStateTensors(IReadOnlyDictionary<string, Tensor> state);

    /// <summary>
    /// Folds the method back into ordinary dense weights and detaches its hooks: afterwards the model is a
    /// plain model again, saved with its usual state dict.
    /// </summary>
    void Merge();
}

/// <summary>A block of parameters updated sparsely with its own Adam moments (index + values storage).</summary>
public interface ISparseTrainable
{
    string Name { get; }
    /// <summary>The accumulated gradient over the selected entries (values only, aligned with the indices).</summary>
    Tensor Grad { get; }
    void ZeroGrad();
    /// <summary>One AdamW step on the selected entries, then the change is applied to the model's weight.</summary>
    void Step(double lr, double beta1, double beta2, double eps, double weightDecay, long step);
}

/// <summary>Sizes a method adds to training, in elements and bytes.</summary>
public sealed record MethodFootprint(
    string Method,
    long TrainableParameters,
    long OptimizerStateBytes,
    long GradientBytes,
    long MlpOptimizerStateBytes,
    long MlpGradientBytes,
    long ExtraBytes)
{
    /// <summary>Dense AdamW keeps two moments per trainable element (the step counter is negligible).</summary>
    public static MethodFootprint Dense(string method, IEnumerable<TrainableParameter> ps, long extraBytes = 0)
    {
        long n = 0, state = 0, grad = 0, mlpState = 0, mlpGrad = 0;
        foreach (var p in ps)
        {
            var numel = p.Parameter.numel();
            var bytes = numel * p.Parameter.ElementSize;
            n += numel; state += 2 * bytes; grad += bytes;
            if (p.IsMlp) { mlpState += 2 * bytes; mlpGrad += bytes; }
        }
        return new MethodFootprint(method, n, state, grad, mlpState, mlpGrad, extraBytes);
    }

    public MethodFootprint Plus(MethodFootprint o) => new(Method,
        TrainableParameters + o.TrainableParameters, OptimizerStateBytes + o.OptimizerStateBytes,
        GradientBytes + o.GradientBytes, MlpOptimizerStateBytes + o.MlpOptimizerStateBytes,
        MlpGradientBytes + o.MlpGradientBytes, ExtraBytes + o.ExtraBytes);
}
