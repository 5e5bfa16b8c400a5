using System.Text.RegularExpressions;

namespace MlpKit.Models;

/// <summary>What a parameter is, for the parameter-count breakdown.</summary>
public enum ParameterCategory
{
    /// <summary>Token, position and token-type embeddings, and an untied LM head.</summary>
    Embeddings,
    /// <summary>Query/key/value/output projections.</summary>
    Attention,
    /// <summary>Dense feed-forward blocks.</summary>
    Mlp,
    /// <summary>The experts of Mixture-of-Experts blocks.</summary>
    Experts,
    /// <summary>Norms, routers, poolers and task heads.</summary>
    Other,
}

/// <summary>
/// One model parameter under its internal name (as the module tree names it) and its Hugging Face name.
/// <see cref="Transpose"/> is set where the file stores the transpose of the math layout (GPT-2's Conv1D
/// keeps weights as [in, out]). <see cref="Optional"/> parameters keep their initial values when a checkpoint
/// lacks them, as Hugging Face does for a BERT pooler missing from a masked-LM checkpoint.
/// </summary>
public sealed record TensorMapping(
    string Internal,
    string Hf,
    ParameterCategory Category,
    bool Transpose = false,
    bool Optional = false,
    IReadOnlyList<string>? Aliases = null);

/// <summary>
/// The per-architecture correspondence between a model's parameters and the tensor names of its Hugging Face
/// checkpoint, used by the generic load/save code in <see cref="HfTensorBinding"/>.
/// </summary>
public sealed class TensorNameMap
{
    public TensorNameMap(string architecture, IReadOnlyList<TensorMapping> entries, IReadOnlyList<string> optionalPrefixes,
        IReadOnlyList<string> ignoredPatterns)
    {
        Architecture = architecture;
        Entries = entries;
        OptionalPrefixes = optionalPrefixes;
        Ignored = ignoredPatterns.Select(p => new Regex(p, RegexOptions.CultureInvariant)).ToArray();
    }

    public string Architecture { get; }
    public IReadOnlyList<TensorMapping> Entries { get; }

    /// <summary>
    /// Base-model prefixes ("bert.", "transformer.", "model.") that a checkpoint of the bare base model omits
    /// and a task model's checkpoint carries; names are read with or without them.
    /// </summary>
    public IReadOnlyList<string> OptionalPrefixes { get; }

    /// <summary>Tensors a checkpoint may hold that the model does not use (buffers, heads of other tasks, tied copies).</summary>
    public IReadOnlyList<Regex> Ignored { get; }

    public bool IsIgnored(string hfName) => Ignored.Any(r => r.IsMatch(hfName));

    /// <summary>The names under which a checkpoint may store this entry, the canonical one first.</summary>
    public IEnumerable<string> Candidates(TensorMapping m)
    {
        foreach (var name in new[] { m.Hf }.Concat(m.Aliases ?? Array.Empty<string>()))
        {
            yield return name;
            foreach (var p in OptionalPrefixes)
                yield return name.StartsWith(p, StringComparison.Ordinal) ? name[p.Length..] : p + name;
        }
    }
}
