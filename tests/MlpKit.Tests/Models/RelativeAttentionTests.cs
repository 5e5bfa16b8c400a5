using MlpKit.Ffn.Variants;
using MlpKit.Lm;
using MlpKit.Runtime;
using MlpKit.Tests.FfnVariantsTests;
using TorchSharp;
using static TorchSharp.torch;
using Xunit;

namespace MlpKit.Tests.Models;

public class RelativeAttentionTests
{
    static LmConfig TinyXl(string ffn = "dense", long context = 16)
    {
        var spec = new FfnFamilySpec(DModel: 16, NExperts: 4, ExpertSize: 8, K: 2, Gamma: 1e-3, PkmHeads: 2, PkmKnn: 4);
        return new LmConfig(VocabSize: 11, DModel: 16, NLayers: 2, NHeads: 2, ContextLength: context, ffn,
            FfnVariants.ParamEqualConfig(ffn, spec), Attention: LmConfig.XlAttention);
    }

    /// <summary>Sinusoid of one distance d written out per channel: sin(d·10000^(−2f/D)) for f &lt; D/2, then the cosines.</summary>
    static double[] Sinusoid(int d, int dModel)
    {
        var e = new double[dModel];
        for (int f = 0; f < dModel / 2; f++)
        {
            var w = Math.Pow(10000.0, -2.0 * f / dModel);
            e[f] = Math.Sin(d * w);
            e[dModel / 2 + f] = Math.Cos(d * w);
        }
        return e;
    }

    static double[] MatVec(double[,] w, double[] x)
    {
        var y = new double[w.GetLength(0)];
        for (int o = 0; o < y.Length; o++)
            for (int i = 0; i < x.Length; i++) y[o] += w[o, i] * x[i];
        return y;
    }

    static double[,] ToMatrix(Tensor t)
    {
        var a = t.contiguous().data<double>().ToArray();
        int r = (int)t.shape[0], c = (int)t.shape[1];
        var m = new double[r, c];
        for (int i = 0; i < r; i++) for (int j = 0; j < c; j++) m[i, j] = a[i * c + j];
        return m;
    }

    static double[] Row(Tensor t, params long[] index)
    {
        var s = t;
        foreach (var i in index) s = s[i];
        return s.contiguous().data<double>().ToArray();
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(7)]
    public void RelativeShiftScoresEqualNaiveDoubleLoop(int memLength)
    {
        TorchRuntime.EnsureInitialized();
        using var scope = NewDisposeScope();
        manual_seed(3);
        const int B = 2, T = 5, D = 8, H = 2, hd = D / H;
        var attn = new RelativeMultiHeadAttention(D, H, 1.0);
        attn.to(ScalarType.Float64);
        var x = randn(B, T, D, dtype: ScalarType.Float64);
        var mem = randn(B, memLength, D, dtype: ScalarType.Float64);
        var scores = attn.Scores(x, mem, out _);
        Assert.Equal(new long[] { B, H, T, memLength + T }, scores.shape);

        var p = attn.named_parameters().ToDictionary(kv => kv.name, kv => kv.parameter);
        var wq = ToMatrix(p["q_net.weight"]);
        var wkv = ToMatrix(p["kv_net.weight"]);
        var wr = ToMatrix(p["r_net.weight"]);
        var u = ToMatrix(p["r_w_bias"]);
        var v = ToMatrix(p["r_r_bias"]);
        var all = cat([mem, x], 1);
        var got = scores.contiguous().data<double>().ToArray();
        int L = memLength + T;
        for (int b = 0; b < B; b++)
            for (int i = 0; i < T; i++)
            {
                var q = MatVec(wq, Row(x, b, i));
                for (int j = 0; j < L; j++)
                {
                    var kAll = MatVec(wkv, Row(all, b, j));
                    for (int h = 0; h < H; h++)
                    {
                        var actual = got[((b * H + h) * T + i) * L + j];
                        if (j > i + memLength)
                        {
                            Assert.True(double.IsNegativeInfinity(actual), $"future key {j} of query {i} is not masked");
                            continue;
                        }
                        var r = MatVec(wr, Sinusoid(i + memLength - j, D));
                        double s = 0;
                        for (int c = 0; c < hd; c++)
                        {
                            var qc = q[h * hd + c];
                            var kc = kAll[h * hd + c];
                            var rc = r[h * hd + c];
                            s += qc * kc + qc * rc + u[h, c] * kc + v[h, c] * rc;
                        }
                        s /= Math.Sqrt(hd);
                        Assert.True(Math.Abs(s - actual) < 1e-10, $"b{b} h{h} i{i} j{j}: naive {s}, shifted {actual}");
                    }
                }
            }
    }

    [Fact]
    public void WithoutMemoryLogitsAtPositionTDoNotDependOnLaterTokens()
    {
        TorchRuntime.EnsureInitialized();
        using var scope = NewDisposeScope();
        manual_seed(4);
        var lm = new DecoderLm(TinyXl());
        lm.to(ScalarType.Float64);
        lm.eval();
        var tokens = randint(0, 11, new long[] { 2, 12 });
        var logits = lm.forward(tokens);
        for (int t = 0; t < 11; t++)
        {
            var changed = tokens.clone();
            changed[.., (t + 1)..] = (changed[.., (t + 1)..] + 1).remainder(11);
            var other = lm.forward(changed);
            var prefixDiff = (other[.., ..(t + 1)] - logits[.., ..(t + 1)]).abs().max().item<double>();
            Assert.True(prefixDiff < 1e-12, $"position ≤ {t} moved by {prefixDiff} when later tokens changed");
            Assert.True((other[.., t + 1] - logits[.., t + 1]).abs().max().item<double>() > 1e-6, "the changed token has no effect");
        }
    }

    [Fact]
    public void SegmentWithMemoryEqualsTheConcatenatedSequenceRestrictedToTheSegment()
    {
        // XL semantics: memory holds each layer's input for the previous segment, so when that segment itself started
        // from empty memory, segment 2 sees exactly what the second half of one pass over [segment 1 ; segment 2] sees.
        TorchRuntime.EnsureInitialized();
        using var scope = NewDisposeScope();
        manual_seed(5);
        var lm = new DecoderLm(TinyXl());
        lm.to(ScalarType.Float64);
        lm.eval();
        var tokens = randint(0, 11, new long[] { 3, 14 });
        var (_, mem) = lm.Forward(tokens[.., ..6], null);
        Assert.Equal(2, mem.Length);
        Assert.All(mem, m => Assert.Equal(new long[] { 3, 6, 16 }, m.shape));
        Assert.All(mem, m => Assert.False(m.requires_grad));
        var (seg2, mem2) = lm.Forward(tokens[.., 6..], mem);
        var full = lm.forward(tokens);
        var diff = (seg2 - full[.., 6..]).abs().max().item<double>();
        Assert.True(diff < 1e-10, $"segment with memory differs from the full pass by {diff}");
        // Without the memory the segment's logits do change: the memory is really used.
        var alone = lm.forward(tokens[.., 6..]);
        Assert.True((alone - full[.., 6..]).abs().max().item<double>() > 1e-6);
        // The next memory keeps the last ContextLength (16) positions of [memory ; segment] = all 14 here.
        Assert.All(mem2, m => Assert.Equal(14, m.shape[1]));
    }

    [Fact]
    public void MemoryIsTruncatedToTheContextLength()
    {
        TorchRuntime.EnsureInitialized();
        using var scope = NewDisposeScope();
        manual_seed(6);
        var lm = new DecoderLm(TinyXl(context: 4));
        lm.eval();
        var tokens = randint(0, 11, new long[] { 1, 4 });
        var (_, m1) = lm.Forward(tokens, null);
        var (_, m2) = lm.Forward(tokens, m1);
        Assert.All(m2, m => Assert.Equal(4, m.shape[1]));
    }

    [Fact]
    public void TinyXlLmTrainsAcrossConsecutiveSegments()
    {
        TorchRuntime.EnsureInitialized();
        using var threads = new SingleThread();
        using var scope = NewDisposeScope();
        manual_seed(31);
        var lm = new DecoderLm(TinyXl(context: 8));
        // Long sequences counting up mod 11 from random starts, read as consecutive segments of 8 tokens.
        var starts = randint(0, 11, new long[] { 8, 1 });
        var seq = (starts + arange(4 * 8 + 1).unsqueeze(0)).remainder(11);
        var opt = optim.AdamW(lm.parameters(), lr: 3e-3);
        lm.train();
        double first = 0, last = 0;
        IReadOnlyList<Tensor>? memory = null;
        for (int step = 0; step < 50; step++)
        {
            using var s = NewDisposeScope();
            int seg = step % 4;
            if (seg == 0) memory = null;
            opt.zero_grad();
            var loss = lm.Loss(seq.narrow(1, seg * 8, 8), seq.narrow(1, seg * 8 + 1, 8), memory, out var next);
            loss.Total.backward();
            opt.step();
            foreach (var m in next) m.MoveToOuterDisposeScope();
            memory = next;
            if (step == 0) first = loss.CrossEntropy.item<float>();
            last = loss.CrossEntropy.item<float>();
        }
        Assert.InRange(first, 1.8, 3.2);   // near ln 11 = 2.40 at init
        Assert.True(last < 0.6 * first, $"xl: {first} → {last}");
    }

    [Fact]
    public void UnknownAttentionIsRejectedNamingTheField()
    {
        var bad = TinyXl() with { Attention = "alibi" };
        var e = Assert.Throws<MlpKit.MlpKitException>(() => bad.Validate("lm.json"));
        Assert.Contains("attention", e.Message);
        Assert.Contains("lm.json", e.Message);
    }

    [Fact]
    public void RopeLmRejectsMemory()
    {
        TorchRuntime.EnsureInitialized();
        using var scope = NewDisposeScope();
        var lm = new DecoderLm(TinyXl() with { Attention = LmConfig.RopeAttention });
        var tokens = zeros(1, 4, dtype: ScalarType.Int64);
        var mem = new[] { zeros(1, 2, 16), zeros(1, 2, 16) };
        Assert.Throws<MlpKit.MlpKitException>(() => lm.Forward(tokens, mem));
    }
}
