namespace FastCalib;

/// <summary>
/// Confidence sums as exact integers: every confidence is rounded to the nearest unit of 2^-40 (halves up), on the
/// host and on the device alike, and units are added as integers, so a bin's confidence sum is the same in any order,
/// on any backend and for any split into batches. A confidence of at least 2^-17 is a whole number of units (float32
/// has 24 significant bits), so only smaller ones are rounded, by at most 2^-41.
/// </summary>
internal static class ConfidenceUnits
{
    /// <summary>2^40: units per unit of confidence.</summary>
    public const double One = 1099511627776.0;

    /// <summary>Units of a confidence in [0, 1] as a float64 integer (exact): floor(c · 2^40 + 1/2).</summary>
    public static double Of(float confidence) => Math.Floor(confidence * One + 0.5);

    /// <summary>The same as <see cref="Of"/> in integer form, for device code (truncation is the floor for c ≥ 0).</summary>
    public static long OfNonNegative(float confidence) => (long)(confidence * One + 0.5);

    /// <summary>A sum of units back in confidence units.</summary>
    public static double ToConfidence(Int128 units) => (double)units / One;
}
