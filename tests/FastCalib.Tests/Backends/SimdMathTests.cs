using FastCalib.Kernels.Internals;
using System.Runtime.Intrinsics;
using FastCalib.Kernels;
using Xunit;

namespace FastCalib.Tests.Backends;

/// <summary>The fast vector exponential's and logarithm's documented error bounds, edge values, and that every width agrees.</summary>
public class SimdMathTests
{
    /// <summary>Relative error against Math.Exp over [-87, 88] (normal results), swept densely: at most 2 × 2^-24.</summary>
    [Fact]
    public void Exp_is_within_two_units_of_2_to_the_minus_24_for_normal_results()
    {
        const double unit = 1.0 / (1 << 24);
        double worst = 0;
        var input = new float[16];
        for (int i = 0; i <= 1_750_000; i++)
        {
            float x = -87f + i * (175f / 1_750_000);
            input[i % 16] = x;
            if (i % 16 != 15) continue;
            foreach (var (w, y) in All(input))
                for (int l = 0; l < 16; l++)
                {
                    double exact = Math.Exp(input[l]);
                    worst = Math.Max(worst, Math.Abs(y[l] - exact) / exact);
                }
        }
        Assert.True(worst <= 2 * unit, $"max relative error {worst:G3} = {worst / unit:F2} x 2^-24");
    }

    [Fact]
    public void Exp_edges()
    {
        float[] x = [float.NegativeInfinity, -200f, -104f, -90f, float.NaN, float.PositiveInfinity, 89f, 0f, -0f, 1f, -1e-30f, 88.7f, 50f, -50f, -87.5f, -95f];
        foreach (var (w, y) in All(x))
        {
            Assert.Equal(0f, y[0]);
            Assert.Equal(0f, y[1]);
            Assert.Equal(0f, y[2]);
            Assert.Equal(Math.Exp(-90), y[3], 1e-44);          // denormal, as IEEE rounds it
            Assert.True(float.IsNaN(y[4]), $"{w}: NaN");
            Assert.Equal(float.PositiveInfinity, y[5]);
            Assert.Equal(float.PositiveInfinity, y[6]);
            Assert.Equal(1f, y[7]);
            Assert.Equal(1f, y[8]);
            Assert.Equal(Math.E, y[9], 1e-6);
            Assert.Equal(1f, y[10]);
            Assert.Equal(Math.Exp(88.7f), y[11], Math.Exp(88.7f) * 4e-7);
            Assert.Equal(Math.Exp(-95), y[15], 1e-44);
        }
    }

    /// <summary>
    /// The portable exponent scaling (two powers of two, used where AVX-512 is absent) equals exact multiplication by
    /// 2^k, including overflow to infinity and gradual underflow, over the whole range the exponential uses.
    /// </summary>
    [Fact]
    public void Portable_power_of_two_scaling_is_exact()
    {
        foreach (float p in new[] { 0.70710677f, 1f, 1.2345678f, 1.4142135f })
            for (int k = -150; k <= 128; k++)
            {
                float expected = (float)(p * Math.Pow(2, k));
                Assert.Equal(expected, SimdMath256.ScaleByPowerOfTwoPortable(Vector256.Create(p), Vector256.Create((float)k)).ToScalar());
                Assert.Equal(expected, SimdMath128.ScaleByPowerOfTwoPortable(Vector128.Create(p), Vector128.Create((float)k)).ToScalar());
                Assert.Equal(expected, SimdMath512.ScaleByPowerOfTwoPortable(Vector512.Create(p), Vector512.Create((float)k)).ToScalar());
            }
    }

    /// <summary>Error in units in the last place of the correctly rounded float result.</summary>
    private static double Ulps(float actual, double exact)
    {
        float rounded = (float)exact;
        double ulp = Math.Abs((double)MathF.BitIncrement(Math.Abs(rounded)) - Math.Abs(rounded));
        return Math.Abs(actual - exact) / ulp;
    }

    /// <summary>
    /// The vector logarithm within 1 ulp of Math.Log (0.94 ulp is the maximum over every positive float), at every width
    /// and in both forms (AVX-512's exponent split and the bit split), which agree bit for bit: every float of [0.5, 2)
    /// (every mantissa, both sides of the centring at √2) and a stride through all positive floats, subnormals included.
    /// </summary>
    [Fact]
    public void Log_is_within_one_ulp_for_every_positive_float_tested()
    {
        double worst = 0;
        float worstAt = 0;
        var input = new float[16];
        void Check()
        {
            float[] first = null;
            foreach (var (form, y) in AllLog(input))
            {
                first ??= y;
                for (int l = 0; l < 16; l++)
                {
                    double e = Ulps(y[l], Math.Log(input[l]));
                    if (e > worst) (worst, worstAt) = (e, input[l]);
                    // every form splits x into the same exponent and mantissa, so all agree bit for bit
                    if (BitConverter.SingleToInt32Bits(y[l]) != BitConverter.SingleToInt32Bits(first[l]))
                        Assert.Fail($"{form}: log {input[l]:R} = {y[l]:R}, the first form gave {first[l]:R}");
                }
            }
        }
        int n = 0;
        for (int bits = BitConverter.SingleToInt32Bits(0.5f); bits < BitConverter.SingleToInt32Bits(2f); bits++)
        {
            input[n++ % 16] = BitConverter.Int32BitsToSingle(bits);
            if (n % 16 == 0) Check();
        }
        for (long bits = 1; bits < 0x7f800000; bits += 997)
        {
            input[n++ % 16] = BitConverter.Int32BitsToSingle((int)bits);
            if (n % 16 == 0) Check();
        }
        Assert.True(worst <= 1, $"max error {worst:F2} ulp at x = {worstAt:R}");
    }

    [Fact]
    public void Log_edges()
    {
        float[] x = [0f, -0f, -1f, float.NaN, float.PositiveInfinity, float.NegativeInfinity, 1f, float.Epsilon, 1.17549435e-38f, float.MaxValue, 2f, 0.5f, MathF.E, 1e-30f, 1.0000001f, 0.99999994f];
        foreach (var (w, y) in AllLog(x))
        {
            Assert.Equal(float.NegativeInfinity, y[0]);
            Assert.Equal(float.NegativeInfinity, y[1]);
            Assert.True(float.IsNaN(y[2]), $"{w}: log -1");
            Assert.True(float.IsNaN(y[3]), $"{w}: log NaN");
            Assert.Equal(float.PositiveInfinity, y[4]);
            Assert.True(float.IsNaN(y[5]), $"{w}: log -inf");
            Assert.Equal(0f, y[6]);
            for (int i = 7; i < 16; i++) Assert.True(Ulps(y[i], Math.Log(x[i])) <= 1, $"{w}: log {x[i]:R} = {y[i]:R}");
        }
    }

    /// <summary>
    /// LogOfNormal (the logarithm the generator emits under a guard x ≥ 2^-126) gives Log's bits for every normal
    /// positive float tested and +∞: all of [0.5, 2), a stride through [2^-126, MaxValue], and the ends.
    /// </summary>
    [Fact]
    public void Log_of_normal_matches_log_bit_for_bit_on_normal_floats()
    {
        var input = new float[16];
        int n = 0, checkedValues = 0;
        void Check()
        {
            var log = AtEveryWidth(input, "", SimdMath512.Log, SimdMath256.Log, SimdMath128.Log).ToList();
            var ofNormal = AtEveryWidth(input, "", SimdMath512.LogOfNormal, SimdMath256.LogOfNormal, SimdMath128.LogOfNormal).ToList();
            for (int f = 0; f < log.Count; f++)
                for (int l = 0; l < 16; l++)
                    if (BitConverter.SingleToInt32Bits(ofNormal[f].Result[l]) != BitConverter.SingleToInt32Bits(log[f].Result[l]))
                        Assert.Fail($"{log[f].Form}: LogOfNormal({input[l]:R}) = {ofNormal[f].Result[l]:R}, Log gives {log[f].Result[l]:R}");
            checkedValues += 16;
        }
        void Add(float x) { input[n++ % 16] = x; if (n % 16 == 0) Check(); }
        foreach (float x in new[] { 1.17549435e-38f, MathF.BitIncrement(1.17549435e-38f), float.MaxValue, float.PositiveInfinity, 1f, 2f, 0.5f, 1.41421354f })
            Add(x);
        for (int bits = BitConverter.SingleToInt32Bits(0.5f); bits < BitConverter.SingleToInt32Bits(2f); bits++)
            Add(BitConverter.Int32BitsToSingle(bits));
        for (long bits = 0x00800000; bits < 0x7f800000; bits += 1009)
            Add(BitConverter.Int32BitsToSingle((int)bits));
        Assert.True(checkedValues > 10_000_000);
    }

    /// <summary>
    /// Partial loads read the first n values and give 0 in the other lanes; partial stores write exactly the first n
    /// lanes and leave the memory after them as it was, for every n below the width, at every width.
    /// </summary>
    [Fact]
    public unsafe void Partial_loads_and_stores_touch_only_the_first_lanes()
    {
        var values = Enumerable.Range(1, 16).Select(i => i * 1.5f).ToArray();
        var ints = Enumerable.Range(1, 16).Select(i => i * 7 - 3).ToArray();
        const float canary = -12345f;
        fixed (float* v = values)
        fixed (int* vi = ints)
        {
            for (int n = 0; n < 16; n++)
            {
                var target = Enumerable.Repeat(canary, 17).ToArray();
                var targetInts = Enumerable.Repeat(-9, 17).ToArray();
                fixed (float* t = target)
                fixed (int* ti = targetInts)
                {
                    if (n < 4)
                    {
                        Assert.Equal(Expected(n, 4), Lanes(SimdMath128.LoadFirst(v, n)));
                        Assert.Equal(ExpectedInts(n, 4), Lanes(SimdMath128.LoadRows(vi, n)));
                        SimdMath128.StoreFirst(Vector128.Create(values), t, n);
                        SimdMath128.StoreRows(Vector128.Create(ints), ti, n);
                        CheckStored(4);
                    }
                    if (n < 8)
                    {
                        Assert.Equal(Expected(n, 8), Lanes(SimdMath256.LoadFirst(v, n)));
                        Assert.Equal(ExpectedInts(n, 8), Lanes(SimdMath256.LoadRows(vi, n)));
                        SimdMath256.StoreFirst(Vector256.Create(values), t, n);
                        SimdMath256.StoreRows(Vector256.Create(ints), ti, n);
                        CheckStored(8);
                    }
                    Assert.Equal(Expected(n, 16), Lanes(SimdMath512.LoadFirst(v, n)));
                    Assert.Equal(ExpectedInts(n, 16), Lanes(SimdMath512.LoadRows(vi, n)));
                    SimdMath512.StoreFirst(Vector512.Create(values), t, n);
                    SimdMath512.StoreRows(Vector512.Create(ints), ti, n);
                    CheckStored(16);
                }

                void CheckStored(int lanes)
                {
                    for (int i = 0; i < 17; i++)
                    {
                        Assert.Equal(i < n ? values[i] : canary, target[i]);
                        Assert.Equal(i < n ? ints[i] : -9, targetInts[i]);
                    }
                    Array.Fill(target, canary);
                    Array.Fill(targetInts, -9);
                }
            }
        }

        float[] Expected(int n, int lanes) => Enumerable.Range(0, lanes).Select(i => i < n ? values[i] : 0f).ToArray();
        int[] ExpectedInts(int n, int lanes) => Enumerable.Range(0, lanes).Select(i => i < n ? ints[i] : 0).ToArray();
    }

    /// <summary>
    /// Tiles at every width, for every row length a tile takes (1 to 32) and every row count up to the lane count:
    /// a load puts row r's value j at tile[j·lanes + r] (lanes past the rows repeat the last row); a store writes the
    /// first rows back as they were and nothing past them (a canary follows the rows). Full tiles take the in-register
    /// transposes where the processor has them (16x16 under AVX-512 for 9 to 16 columns, 8x8 blocks otherwise), which
    /// read past the last row only when a following row is there (the array ends at the last available row).
    /// </summary>
    [Fact]
    public unsafe void Tiles_transpose_rows_exactly_and_touch_nothing_past_them()
    {
        const float canary = -12345f;
        foreach (int lanes in new[] { 4, 8, 16 })
            for (int cols = 1; cols <= 32; cols++)
                for (int rows = 1; rows <= lanes; rows++)
                    foreach (int following in new[] { 0, 1 })   // rows after the tile's that a load may read
                {
                    int available = rows + following;
                    var source = Enumerable.Range(0, available * cols).Select(i => 1 + i * 0.25f).ToArray();
                    int written = rows * cols;
                    var tile = Enumerable.Repeat(float.NaN, 32 * lanes + 16).ToArray();
                    var back = Enumerable.Repeat(canary, written + 16).ToArray();
                    fixed (float* src = source, t = tile, dst = back)
                    {
                        switch (lanes)
                        {
                            case 4: SimdMath128.LoadTile(src, cols, rows, available, t); SimdMath128.StoreTile(t, cols, rows, dst); break;
                            case 8: SimdMath256.LoadTile(src, cols, rows, available, t); SimdMath256.StoreTile(t, cols, rows, dst); break;
                            default: SimdMath512.LoadTile(src, cols, rows, available, t); SimdMath512.StoreTile(t, cols, rows, dst); break;
                        }
                    }
                    for (int j = 0; j < cols; j++)
                        for (int r = 0; r < lanes; r++)
                            Assert.True(tile[j * lanes + r] == source[Math.Min(r, rows - 1) * cols + j], $"{lanes} lanes, {cols} cols, {rows} rows: tile column {j} lane {r}");
                    for (int i = 0; i < back.Length; i++)
                        Assert.True(back[i] == (i < written ? source[i] : canary), $"{lanes} lanes, {cols} cols, {rows} rows: stored value {i}");
                }
    }

    /// <summary>
    /// The loop steps of Max and Min equal Vector.Max/Min bit for bit on every ordered pair of a pool with both zeros,
    /// infinities, ties and subnormals, in both operand orders, at every width.
    /// </summary>
    [Fact]
    public void Ordered_max_and_min_steps_match_the_ieee_maximum_and_minimum()
    {
        float[] pool = [0f, -0f, 1f, -1f, 0.5f, float.PositiveInfinity, float.NegativeInfinity, float.Epsilon, -float.Epsilon, float.MaxValue, -float.MaxValue, 3f];
        var a = new float[16];
        var b = new float[16];
        int n = 0;
        void Check()
        {
            var max = Vector512.Max(Vector512.Create(a), Vector512.Create(b));
            var min = Vector512.Min(Vector512.Create(a), Vector512.Create(b));
            var results = new (string, Vector512<float>, Vector512<float>)[]
            {
                ("512", SimdMath512.MaxOrdered(Vector512.Create(a), Vector512.Create(b)), SimdMath512.MinOrdered(Vector512.Create(a), Vector512.Create(b))),
                ("256", Vector512.Create(SimdMath256.MaxOrdered(Vector256.Create(a), Vector256.Create(b)), SimdMath256.MaxOrdered(Vector256.Create(a, 8), Vector256.Create(b, 8))),
                        Vector512.Create(SimdMath256.MinOrdered(Vector256.Create(a), Vector256.Create(b)), SimdMath256.MinOrdered(Vector256.Create(a, 8), Vector256.Create(b, 8)))),
                ("128", Vector512.Create(Vector256.Create(SimdMath128.MaxOrdered(Vector128.Create(a), Vector128.Create(b)), SimdMath128.MaxOrdered(Vector128.Create(a, 4), Vector128.Create(b, 4))),
                                         Vector256.Create(SimdMath128.MaxOrdered(Vector128.Create(a, 8), Vector128.Create(b, 8)), SimdMath128.MaxOrdered(Vector128.Create(a, 12), Vector128.Create(b, 12)))),
                        Vector512.Create(Vector256.Create(SimdMath128.MinOrdered(Vector128.Create(a), Vector128.Create(b)), SimdMath128.MinOrdered(Vector128.Create(a, 4), Vector128.Create(b, 4))),
                                         Vector256.Create(SimdMath128.MinOrdered(Vector128.Create(a, 8), Vector128.Create(b, 8)), SimdMath128.MinOrdered(Vector128.Create(a, 12), Vector128.Create(b, 12))))),
            };
            foreach (var (width, gotMax, gotMin) in results)
                for (int l = 0; l < 16; l++)
                {
                    Assert.True(BitConverter.SingleToInt32Bits(gotMax[l]) == BitConverter.SingleToInt32Bits(max[l]), $"{width}: max({a[l]:R}, {b[l]:R}) = {gotMax[l]:R}, expected {max[l]:R}");
                    Assert.True(BitConverter.SingleToInt32Bits(gotMin[l]) == BitConverter.SingleToInt32Bits(min[l]), $"{width}: min({a[l]:R}, {b[l]:R}) = {gotMin[l]:R}, expected {min[l]:R}");
                }
        }
        foreach (float x in pool)
            foreach (float y in pool)
            {
                a[n % 16] = x;
                b[n % 16] = y;
                if (++n % 16 == 0) Check();
            }
        while (n % 16 != 0) { a[n % 16] = 0f; b[n % 16] = -0f; n++; }
        Check();
    }

    private static float[] Lanes(Vector128<float> v) { var a = new float[4]; v.CopyTo(a); return a; }
    private static float[] Lanes(Vector256<float> v) { var a = new float[8]; v.CopyTo(a); return a; }
    private static float[] Lanes(Vector512<float> v) { var a = new float[16]; v.CopyTo(a); return a; }
    private static int[] Lanes(Vector128<int> v) { var a = new int[4]; v.CopyTo(a); return a; }
    private static int[] Lanes(Vector256<int> v) { var a = new int[8]; v.CopyTo(a); return a; }
    private static int[] Lanes(Vector512<int> v) { var a = new int[16]; v.CopyTo(a); return a; }

    private static IEnumerable<(string Form, float[] Result)> AllLog(float[] x16) =>
        // the bit-split form processors without AVX-512 use, at every width (on AVX-512 machines Log takes the other)
        AtEveryWidth(x16, " bit split", SimdMath512.LogPortable, SimdMath256.LogPortable, SimdMath128.LogPortable)
            .Concat(AtEveryWidth(x16, "", SimdMath512.Log, SimdMath256.Log, SimdMath128.Log));

    private static IEnumerable<(string Form, float[] Result)> All(float[] x16) =>
        AtEveryWidth(x16, "", SimdMath512.Exp, SimdMath256.Exp, SimdMath128.Exp);

    /// <summary>A lane function applied to 16 values at 512, 256 and 128 bits (one, two and four vectors).</summary>
    private static IEnumerable<(string Form, float[] Result)> AtEveryWidth(float[] x16, string form,
        Func<Vector512<float>, Vector512<float>> f512, Func<Vector256<float>, Vector256<float>> f256, Func<Vector128<float>, Vector128<float>> f128)
    {
        var r512 = new float[16];
        f512(Vector512.Create(x16)).CopyTo(r512);
        var r256 = new float[16];
        for (int k = 0; k < 16; k += 8) f256(Vector256.Create(x16, k)).CopyTo(r256, k);
        var r128 = new float[16];
        for (int k = 0; k < 16; k += 4) f128(Vector128.Create(x16, k)).CopyTo(r128, k);
        return [("512" + form, r512), ("256" + form, r256), ("128" + form, r128)];
    }
}
