using MlpKit.Ffn.Variants;
using MlpKit.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlpKit.Lm;

/// <summary>Causal multi-head self-attention with RoPE, no biases.</summary>
public sealed class CausalSelfAttention : nn.Module<Tensor, Tensor>
{
    private Linear qkv;
    private Linear proj;
    private readonly int _heads;
    private readonly RotaryEmbedding _rope;

    public CausalSelfAttention(long dModel, int heads, RotaryEmbedding rope, double ws) : base(nameof(CausalSelfAttention))
    {
        _heads = heads;
        _rope = rope;
        qkv = nn.Linear(dModel, 3 * dModel, hasBias: false);
        proj = nn.Linear(dModel, dModel, hasBias: false);
        RegisterComponents();
        VariantInit.TruncNormal(qkv.weight!, ws / Math.Sqrt(dModel));
        VariantInit.TruncNormal(proj.weight!, ws / Math.Sqrt(dModel));
    }

    public override Tensor forward(Tensor x)
    {
        long B = x.shape[0], T = x.shape[1], D = x.shape[2], hd = D / _heads;
        var parts = qkv.forward(x).view(B, T, 3, _heads, hd).permute(2, 0, 3, 1, 4);   // [3, B, H, T, hd]
        var q = _rope.Apply(parts[0]);
        var k = _rope.Apply(parts[1]);
        var y = nn.functional.scaled_dot_product_attention(q, k, parts[2], is_casual: true);
        return proj.forward(y.transpose(1, 2).reshape(B, T, D));
    }
}

/// <summary>One pre-LN layer: r + drop(attn(LN(r))), then r + drop(ffn(LN(r))).</summary>
public sealed class DecoderLayer : nn.Module<Tensor, Tensor>
{
    private LayerNorm ln1;
    private CausalSelfAttention? attn;
    private RelativeMultiHeadAttention? relattn;
    private LayerNorm ln2;
    private FeedForwardVariant ffn;
    private Dropout drop;

    public DecoderLayer(LmConfig c, RotaryEmbedding rope, int index) : base(nameof(DecoderLayer))
    {
        ln1 = nn.LayerNorm(c.DModel);
        if (c.Attention == LmConfig.XlAttention) relattn = new RelativeMultiHeadAttention(c.DModel, c.NHeads, c.WeightStdScale);
        else attn = new CausalSelfAttention(c.DModel, c.NHeads, rope, c.WeightStdScale);
        ln2 = nn.LayerNorm(c.DModel);
        ffn = FfnVariants.Create(c.FfnName, c.Ffn with { WeightStdScale = c.WeightStdScale }, $"layers.{index}.ffn");
        drop = nn.Dropout(c.Dropout);
        RegisterComponents();
    }

    public FeedForwardVariant Ffn => ffn;

    public override Tensor forward(Tensor x) => Forward(x, null);

    /// <summary>With relative attention, <paramref name="memory"/> [B, M, D] is the input this layer saw for the
    /// previous positions (null or M = 0: none); RoPE attention takes none.</summary>
    public Tensor Forward(Tensor x, Tensor? memory)
    {
        var h = ln1.forward(x);
        Tensor a;
        if (relattn is not null)
            a = relattn.forward(h, memory is null || memory.shape[1] == 0 ? h.narrow(1, 0, 0) : ln1.forward(memory));
        else if (memory is not null && memory.shape[1] > 0)
            throw new MlpKitException("RoPE attention takes no memory; use attention \"xl\"");
        else a = attn!.forward(h);
        x = x + drop.forward(a);
        return x + drop.forward(ffn.forward(ln2.forward(x)));
    }
}

/// <summary>Loss of one batch: the total to backpropagate and its parts.</summary>
public sealed record LmLoss(Tensor Total, Tensor CrossEntropy, Tensor Aux);

/// <summary>
/// A pre-LN decoder-only transformer language model trained from scratch: token embedding, N layers with RoPE
/// attention and any registered feed-forward variant (the same in every layer), final LayerNorm, untied output
/// head. Weights follow the σ-MoE paper's pre-LN init (std √(2/n_layers)/√fan_in, the variants' own rules).
/// </summary>
public sealed class DecoderLm : nn.Module<Tensor, Tensor>
{
    private Embedding embed;
    private ModuleList<DecoderLayer> layers;
    private LayerNorm ln_f;
    private Linear head;
    private Dropout drop;
    private readonly RotaryEmbedding _rope;

    public DecoderLm(LmConfig config) : base(nameof(DecoderLm))
    {
        config.Validate();
        Config = config;
        _rope = new RotaryEmbedding(config.DModel / config.NHeads, config.ContextLength, config.RopeBase);
        embed = nn.Embedding(config.VocabSize, config.DModel);
        layers = new ModuleList<DecoderLayer>(Enumerable.Range(0, config.NLayers).Select(i => new DecoderLayer(config, _rope, i)).ToArray());
        ln_f = nn.LayerNorm(config.DModel);
        head = nn.Linear(config.DModel, config.VocabSize, hasBias: false);
        drop = nn.Dropout(config.Dropout);
        RegisterComponents();
        VariantInit.TruncNormal(head.weight!, config.WeightStdScale / Math.Sqrt(config.DModel));
    }

    public LmConfig Config { get; }

    /// <summary>The feed-forward block of every layer, in order (usage counts, aux losses, MACs).</summary>
    public IReadOnlyList<FeedForwardVariant> Ffns => layers.Select(l => l.Ffn).ToList();

    /// <summary>Token ids [B, T] (T ≤ context length) → logits [B, T, vocab].</summary>
    public override Tensor forward(Tensor tokens) => Forward(tokens, null).Logits;

    /// <summary>
    /// Token ids [B, T] and, for attention "xl", the memory of the previous segment (one [B, M, D] tensor per layer,
    /// as returned by the previous call; null: none) → logits [B, T, vocab] and the memory for the next segment:
    /// each layer's input over the last ContextLength positions of [memory ; segment], detached so gradients stop
    /// at the segment boundary. With RoPE attention the returned memory is empty.
    /// </summary>
    public (Tensor Logits, Tensor[] Memory) Forward(Tensor tokens, IReadOnlyList<Tensor>? memory)
    {
        if (tokens.shape[^1] > Config.ContextLength)
            throw new MlpKitException($"sequence of {tokens.shape[^1]} tokens exceeds the context length {Config.ContextLength}");
        var xl = Config.Attention == LmConfig.XlAttention;
        if (memory is not null && memory.Count != 0 && memory.Count != layers.Count)
            throw new MlpKitException($"memory has {memory.Count} layers, the model has {layers.Count}");
        var x = drop.forward(embed.forward(tokens));
        var next = new List<Tensor>();
        for (int i = 0; i < layers.Count; i++)
        {
            var mem = memory is null || memory.Count == 0 ? null : memory[i];
            if (xl)
            {
                var all = mem is null || mem.shape[1] == 0 ? x : cat([mem, x], 1);
                var keep = Math.Min(all.shape[1], Config.ContextLength);
                next.Add(all.narrow(1, all.shape[1] - keep, keep).detach());
            }
            x = layers[i].Forward(x, mem);
        }
        return (head.forward(ln_f.forward(x)), next.ToArray());
    }

    /// <summary>
    /// Mean next-token cross-entropy of <paramref name="targets"/> [B, T] given <paramref name="tokens"/> [B, T], plus
    /// the feed-forward regularisers summed over layers (each already scaled by its γ).
    /// </summary>
    public LmLoss Loss(Tensor tokens, Tensor targets) => Loss(tokens, targets, null, out _);

    /// <summary>The loss of one segment given the previous segment's memory (attention "xl"); see <see cref="Forward"/>.</summary>
    public LmLoss Loss(Tensor tokens, Tensor targets, IReadOnlyList<Tensor>? memory, out Tensor[] nextMemory)
    {
        var (logits, next) = Forward(tokens, memory);
        nextMemory = next;
        var ce = nn.functional.cross_entropy(logits.reshape(-1, Config.VocabSize), targets.reshape(-1));
        Tensor aux = zeros(1, dtype: ce.dtype, device: ce.device).squeeze();
        foreach (var f in Ffns) aux = aux + f.AuxLoss.to(ce.dtype, ce.device);
        return new LmLoss(ce + aux, ce, aux);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _rope.Dispose();
        base.Dispose(disposing);
    }
}
