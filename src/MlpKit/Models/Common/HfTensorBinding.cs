using static TorchSharp.torch;

namespace MlpKit.Models;

/// <summary>
/// Generic load/save between a module's parameters and a Hugging Face tensor dictionary, driven by a
/// <see cref="TensorNameMap"/>. Every problem names the file and the tensor.
/// </summary>
public static class HfTensorBinding
{
    /// <summary>
    /// Copies the checkpoint's tensors into the module's parameters (converted to each parameter's dtype and
    /// device). Throws on a missing required tensor, a shape mismatch, or a tensor the model does not know.
    /// </summary>
    public static void Load(nn.Module module, TensorNameMap map, IReadOnlyDictionary<string, Tensor> tensors, string file)
    {
        var parameters = Parameters(module);
        var used = new HashSet<string>(StringComparer.Ordinal);
        var missing = new List<string>();
        using var _ = no_grad();
        foreach (var m in map.Entries)
        {
            if (!parameters.TryGetValue(m.Internal, out var p))
                throw new InvalidOperationException($"{map.Architecture}: name map entry '{m.Internal}' has no parameter in the module");
            var name = map.Candidates(m).FirstOrDefault(tensors.ContainsKey);
            if (name is null)
            {
                if (!m.Optional) missing.Add(m.Hf);
                continue;
            }
            used.Add(name);
            var t = tensors[name];
            var expected = m.Transpose ? p.shape.Reverse().ToArray() : p.shape;
            if (!t.shape.SequenceEqual(expected))
                throw MlpKitException.Field(file, name, $"expected shape {Shape(expected)}, got {Shape(t.shape)}");
            if (!t.is_floating_point())
                throw MlpKitException.Field(file, name, $"expected a floating-point tensor, got {t.dtype}");
            var src = m.Transpose ? t.t() : t;
            p.copy_(src.to(p.dtype, p.device));
        }
        if (missing.Count > 0)
            throw MlpKitException.Field(file, missing[0],
                missing.Count == 1 ? $"missing tensor (a {map.Architecture} checkpoint needs it)"
                    : $"missing tensor (and {missing.Count - 1} more: {string.Join(", ", missing.Skip(1).Take(3))}{(missing.Count > 4 ? ", ..." : "")})");
        foreach (var name in tensors.Keys.OrderBy(k => k, StringComparer.Ordinal))
        {
            if (used.Contains(name) || map.IsIgnored(name)) continue;
            throw MlpKitException.Field(file, name, $"unexpected tensor: not part of this {map.Architecture} model (check config.json: architectures, layer count, head settings)");
        }
    }

    /// <summary>The module's parameters under their canonical Hugging Face names, in the file layout.</summary>
    public static Dictionary<string, Tensor> Export(nn.Module module, TensorNameMap map)
    {
        var parameters = Parameters(module);
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var m in map.Entries)
        {
            var p = parameters[m.Internal].detach();
            result[m.Hf] = m.Transpose ? p.t().contiguous() : p.contiguous();
        }
        return result;
    }

    /// <summary>Numbers of parameters per category, counting each mapped parameter once.</summary>
    public static Dictionary<ParameterCategory, long> Count(nn.Module module, TensorNameMap map)
    {
        var parameters = Parameters(module);
        var counts = Enum.GetValues<ParameterCategory>().ToDictionary(c => c, _ => 0L);
        foreach (var m in map.Entries) counts[m.Category] += parameters[m.Internal].numel();
        return counts;
    }

    static Dictionary<string, TorchSharp.Modules.Parameter> Parameters(nn.Module module) =>
        module.named_parameters().ToDictionary(x => x.name, x => x.parameter, StringComparer.Ordinal);

    internal static string Shape(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";
}
