using System;

namespace FastCalib.Generators;

/// <summary>
/// The one description of each reduction the row patterns use: its identity and how it combines on every path.
/// A new reduction is one entry here.
/// </summary>
/// <param name="Identity">The value an empty accumulator starts from (C# float expression).</param>
/// <param name="Function">The Min/Max function combining two values, or null for addition.</param>
/// <param name="Across">The SimdMath* method reducing a vector's lanes to a float.</param>
/// <param name="Group">The GroupReduce method reducing across a group (and, prefixed with Team, across a team of lanes).</param>
/// <param name="IsSum">Sums may accumulate in float64 where a scalar model asks for it.</param>
internal sealed record Reduction(string Identity, string? Function, string Across, string Group, bool IsSum)
{
    public static readonly Reduction Max = new("float.NegativeInfinity", "Max", "MaxAcross", "Max", false);
    public static readonly Reduction Min = new("float.PositiveInfinity", "Min", "MinAcross", "Min", false);
    public static readonly Reduction Sum = new("0f", null, "SumAcross", "Sum", true);

    public static Reduction Of(StageKind kind) => kind switch
    {
        StageKind.Max => Max,
        StageKind.Min => Min,
        StageKind.Sum or StageKind.MapSum => Sum,
        _ => throw new InvalidOperationException($"{kind} is not a reduction."),
    };

    /// <summary>The scalar statement adding <paramref name="value"/> into <paramref name="accumulator"/>, with MathF or GpuMath.</summary>
    public string ScalarUpdate(string accumulator, string value, string math) =>
        Function is null ? $"{accumulator} += {value};" : $"{accumulator} = {math}.{Function}({accumulator}, {value});";

    /// <summary>
    /// One element's value folded into a vector accumulator inside a loop. Max and Min take the SimdMath step that
    /// is exact except on NaN lanes (three instructions instead of the eight of Vector.Max under AVX2); the loop
    /// then tracks NaN in <see cref="NaNMask"/> and <see cref="WithNaN"/> restores it after the loop.
    /// </summary>
    public string VectorStep(string accumulator, string value, int width) =>
        Function is null ? $"{accumulator} + {value}" : $"{Names.SimdMath(width)}.{Function}Ordered({accumulator}, {value})";

    /// <summary>Whether the loop keeps a NaN mask beside the accumulator (Max and Min).</summary>
    public bool TracksNaN => Function is not null;

    /// <summary>The NaN mask of stage <paramref name="index"/>: lanes that met a NaN value.</summary>
    public static string NaNMask(int index) => "__nan" + index;

    /// <summary>The accumulator with NaN set on the lanes that met one.</summary>
    public static string WithNaN(string accumulator, int index, int width) =>
        $"{Names.Vector(width)}.ConditionalSelect({NaNMask(index)}, {Names.Vector(width)}.Create(float.NaN), {accumulator})";

    /// <summary>Two vectors of the given width combined lane by lane.</summary>
    public string VectorCombine(string a, string b, int width) =>
        Function is null ? $"{a} + {b}" : $"{Names.Vector(width)}.{Function}({a}, {b})";
}
