using static TorchSharp.torch;

namespace MlpKit.FineTuning.SparseGrad;

/// <summary>
/// The HOSVD factor matrices of the gradient tensor G[t, i, j] (t runs over the collected steps and, with a
/// shared basis, over layers). The mode-1 factor U holds the left singular vectors of the unfolding
/// [dW_1 | dW_2 | ...] (m × tn), i.e. the eigenvectors of Σ_t dW_t dW_tᵀ; V likewise from Σ_t dW_tᵀ dW_t.
/// Accumulating these Gram matrices streams the gradients instead of holding the whole tensor
/// (steps × layers × m × n), which the paper's code materialises.
/// </summary>
public sealed class SparseGradBasis : IDisposable
{
    readonly Tensor _gramRows;   // m × m, float64
    readonly Tensor _gramCols;   // n × n, float64
    public long Rows { get; }
    public long Cols { get; }
    public int Count { get; private set; }

    public SparseGradBasis(long rows, long cols, Device device)
    {
        Rows = rows; Cols = cols;
        _gramRows = zeros(rows, rows, dtype: ScalarType.Float64, device: device);
        _gramCols = zeros(cols, cols, dtype: ScalarType.Float64, device: device);
    }

    /// <summary>Adds one slice dW (m × n) of the gradient tensor.</summary>
    public void Add(Tensor grad)
    {
        using var scope = NewDisposeScope();
        var g = grad.detach().to(ScalarType.Float64);
        _gramRows.add_(g.matmul(g.t()));
        _gramCols.add_(g.t().matmul(g));
        Count++;
    }

    /// <summary>U (m × m) and V (n × n), orthogonal, columns ordered by decreasing singular value.</summary>
    public (Tensor U, Tensor V) Factors(ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var u = Eigenvectors(_gramRows).to(dtype);
        var v = Eigenvectors(_gramCols).to(dtype);
        return (u.MoveToOuterDisposeScope(), v.MoveToOuterDisposeScope());
    }

    static Tensor Eigenvectors(Tensor gram)
    {
        // eigh returns ascending eigenvalues; the leading singular directions go first.
        var (_, vecs) = linalg.eigh(gram);
        return vecs.flip(1).contiguous();
    }

    public void Dispose()
    {
        _gramRows.Dispose();
        _gramCols.Dispose();
    }
}
