using FsCheck;
using FsCheck.Fluent;

namespace FastCalib.Tests;

/// <summary>A generated softmax input: shape, logit scale, temperature and a seed for the values.</summary>
public sealed record SoftmaxCase(int Rows, int Cols, double Scale, float Temperature, int Seed, bool Ties)
{
    /// <summary>Logits ~ Normal(0, Scale); with <see cref="Ties"/>, values come from a handful of levels so rows have repeated maxima.</summary>
    public float[] Logits()
    {
        var random = new Random(Seed);
        var z = new float[Rows * Cols];
        for (int i = 0; i < z.Length; i++)
            z[i] = Ties ? (float)(Scale * random.Next(-2, 3)) : (float)(Scale * TestData.Normal(random));
        return z;
    }

    /// <summary>An upstream gradient ~ Normal(0, 1).</summary>
    public float[] Gradient()
    {
        var random = new Random(Seed ^ 0x5bd1e995);
        var g = new float[Rows * Cols];
        for (int i = 0; i < g.Length; i++) g[i] = (float)TestData.Normal(random);
        return g;
    }

    public override string ToString() => $"[{Rows} x {Cols}] scale {Scale:G3} T {Temperature:G4} seed {Seed}{(Ties ? " ties" : "")}";
}

public static class TestData
{
    /// <summary>Columns the issue names: vector-width boundaries, the tile/row switch at 32, a vocabulary size.</summary>
    public static readonly int[] Cols = { 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 65, 1000, 50257 };

    /// <summary>Most elements per generated case, so properties stay quick on every path.</summary>
    public const int MaxElements = 60_000;

    public static double Normal(Random random)
    {
        double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>A NaN with a payload no arithmetic here produces: an output still holding it was never written.</summary>
    public static readonly float Poison = BitConverter.Int32BitsToSingle(0x7FA5A5A5);

    public static T[] Poisoned<T>(int length, T poison)
    {
        var a = new T[length];
        Array.Fill(a, poison);
        return a;
    }

    public static bool IsPoison(float v) => BitConverter.SingleToInt32Bits(v) == BitConverter.SingleToInt32Bits(Poison);

    public static Gen<SoftmaxCase> Cases =>
        from cols in Gen.Elements(Cols)
        from rows in Gen.Choose(1, Math.Max(1, Math.Min(40, MaxElements / cols)))
        from scale in Gen.Elements(1e-3, 0.5, 3.0, 30.0, 1e4)
        from logT in Gen.Choose(-130, 200)                      // T from 0.05 to 100, log-uniform
        from seed in Gen.Choose(0, int.MaxValue)
        from ties in Gen.Frequency((4, Gen.Constant(false)), (1, Gen.Constant(true)))
        select new SoftmaxCase(rows, cols, scale, (float)Math.Pow(10, logT / 100.0), seed, ties);
}

/// <summary>FsCheck arbitraries for the properties (register with [Property(Arbitrary = ...)]).</summary>
public static class Arbitraries
{
    public static Arbitrary<SoftmaxCase> SoftmaxCases() => Arb.From(TestData.Cases);
}
