using FastCalib.Kernels;

namespace FastCalib;

/// <summary>
/// The one definition of each softmax kernel, row by row. The generator emits their scalar, SIMD and ILGPU paths
/// (e.g. <c>ForwardKernel.Cpu</c>, <c>ForwardKernel.Gpu</c>); the public Softmax class validates arguments and calls them.
/// Notation: z = logits, u = z / T (T the temperature, invT = 1/T), p = softmax(u), g = upstream gradient.
/// </summary>
internal static partial class SoftmaxKernels
{
    /// <summary>p_j = exp((z_j - max z) / T) / sum_k exp((z_k - max z) / T).</summary>
    [RowKernel]
    internal static void Forward(ReadOnlyRow z, Row p, float invT)
    {
        float max = Rows.Max(z, v => v);
        float sum = Rows.MapSum(p, z, v => MathF.Exp((v - max) * invT));
        float invSum = 1f / sum;
        Rows.Map(p, p, e => e * invSum);
    }

    /// <summary>log p_j = (z_j - max z) / T - log sum_k exp((z_k - max z) / T).</summary>
    [RowKernel]
    internal static void LogForward(ReadOnlyRow z, Row logp, float invT)
    {
        float max = Rows.Max(z, v => v);
        float sum = Rows.Sum(z, v => MathF.Exp((v - max) * invT));
        float logSum = MathF.Log(sum);
        Rows.Map(logp, z, v => (v - max) * invT - logSum);
    }

    /// <summary>
    /// Fused top-1: the first argmax of z and its probability 1 / sum_k exp((z_k - max z) / T), without writing p.
    /// </summary>
    [RowKernel]
    internal static void Top1(ReadOnlyRow z, float invT, out float confidence, out int predicted)
    {
        int arg = Rows.ArgMax(z, v => v);
        float max = Rows.At(z, arg);
        float sum = Rows.Sum(z, v => MathF.Exp((v - max) * invT));
        confidence = 1f / sum;
        predicted = arg;
    }

    /// <summary>dL/dz_j = p_j (g_j - sum_k g_k p_k) / T (the softmax Jacobian-vector product, then the chain rule through u = z / T).</summary>
    [RowKernel]
    internal static void Backward(ReadOnlyRow p, ReadOnlyRow g, Row dz, float invT)
    {
        float dot = Rows.Sum(g, p, (gj, pj) => gj * pj);
        Rows.Map(dz, g, p, (gj, pj) => pj * (gj - dot) * invT);
    }

    /// <summary>
    /// <see cref="Backward"/> plus dL/dT = sum_j dL/du_j du_j/dT = -(1/T) sum_j (dL/dz_j) z_j, summed over rows.
    /// </summary>
    [RowKernel]
    internal static void BackwardWithTemperature(ReadOnlyRow z, ReadOnlyRow p, ReadOnlyRow g, Row dz, float invT, ref double dT)
    {
        float dot = Rows.Sum(g, p, (gj, pj) => gj * pj);
        float dzz = Rows.MapSum(dz, g, p, (gj, pj) => pj * (gj - dot) * invT);
        float weighted = Rows.Sum(dz, z, (dzj, zj) => dzj * zj);
        dT += -invT * weighted;
    }

    /// <summary>dL/dz_j = (g_j - exp(log p_j) sum_k g_k) / T for log-softmax.</summary>
    [RowKernel]
    internal static void LogBackward(ReadOnlyRow logp, ReadOnlyRow g, Row dz, float invT)
    {
        float gsum = Rows.Sum(g, gj => gj);
        Rows.Map(dz, g, logp, (gj, lj) => (gj - MathF.Exp(lj) * gsum) * invT);
    }

    /// <summary><see cref="LogBackward"/> plus dL/dT = -(1/T) sum_j (dL/dz_j) z_j, summed over rows.</summary>
    [RowKernel]
    internal static void LogBackwardWithTemperature(ReadOnlyRow z, ReadOnlyRow logp, ReadOnlyRow g, Row dz, float invT, ref double dT)
    {
        float gsum = Rows.Sum(g, gj => gj);
        Rows.Map(dz, g, logp, (gj, lj) => (gj - MathF.Exp(lj) * gsum) * invT);
        float weighted = Rows.Sum(dz, z, (dzj, zj) => dzj * zj);
        dT += -invT * weighted;
    }
}
