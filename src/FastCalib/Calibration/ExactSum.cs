using System.Numerics;
using System.Runtime.CompilerServices;

namespace FastCalib;

/// <summary>
/// The exact sum of float32 terms, as integers: sums of any terms, in any order, over threads, devices and
/// processes, are the same number bit for bit, and the one rounding happens when <see cref="ToDouble"/> reads it.
/// </summary>
/// <remarks>
/// <para>A finite float32 is m · 2^(s − 149) with an integer m below 2^24 and s = max(e − 1, 0) for its biased
/// exponent e (subnormals have e = 0 and no implicit bit). Terms are first gathered by their sign and exponent, the
/// float's top 9 bits, into 512 <see cref="Buckets"/> of mantissa sums (2^22 terms a bucket stay below 2^46), then
/// folded into a fixed-point integer in units of 2^-149: <see cref="Digits"/> 32-bit digits, least significant first,
/// all in [0, 2^32) except the last, which carries the sign. 11 digits hold 2^63 terms of float32's largest value.</para>
/// <para>Infinities are counted apart (the buckets of exponent 255 hold 2^23 per infinity); NaN is the caller's to
/// reject.</para>
/// </remarks>
internal sealed class ExactSum
{
    /// <summary>32-bit digits of the fixed-point sum.</summary>
    public const int Digits = 11;

    /// <summary>Bucket keys: the float's sign and biased exponent, bits 31..23.</summary>
    public const int Buckets = 512;

    /// <summary>Longs of <see cref="WriteTo"/>: the digits, then the counts of +∞ and −∞ terms.</summary>
    public const int StateLength = Digits + 2;

    private readonly long[] _digits = new long[Digits];

    /// <summary>Terms that were +∞.</summary>
    public long PositiveInfinities { get; private set; }

    /// <summary>Terms that were −∞.</summary>
    public long NegativeInfinities { get; private set; }

    /// <summary>Gathers <paramref name="term"/> into <paramref name="buckets"/> (<see cref="Buckets"/> of them).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Gather(long* buckets, float term)
    {
        int bits = BitConverter.SingleToInt32Bits(term);
        buckets[(uint)bits >> 23] += Mantissa(bits);
    }

    /// <summary>The integer mantissa m of a float's bits (with the implicit bit unless subnormal).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Mantissa(int bits) => (bits & 0x7FFFFF) | ((bits & 0x7F800000) != 0 ? 0x800000 : 0);

    /// <summary>
    /// Binades below a block's largest term that <see cref="GatherScaled"/>'s integer window spans: a term m · 2^(s − 149)
    /// with s at most this far below the block's largest scale is the integer m · 2^(s − base) below 2^51 (m below 2^24),
    /// so a block of up to 2^10 terms sums below 2^61, and each term converts from float64 exactly.
    /// </summary>
    public const int Window = 27;

    /// <summary>
    /// The lowest scale of a block's integer window, from the largest biased exponent among its finite terms; −1 when
    /// the terms are so large (beyond 2^78) that the window's sum would need buckets past the finite exponents.
    /// </summary>
    public static int WindowBase(int largestExponent)
    {
        int windowBase = Math.Max(Math.Max(largestExponent - 1, 0) - Window, 0);
        return windowBase + 48 + 1 < 0xFF ? windowBase : -1;
    }

    /// <summary>Whether a term (its bits) is summed in the window that starts at scale <paramref name="windowBase"/>: zeros
    /// always, infinities never, others when their scale max(e − 1, 0) is at least the base.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool InWindow(int bits, int windowBase)
    {
        int exponent = (bits >> 23) & 0xFF;
        return (bits & 0x7FFFFFFF) == 0 || (exponent != 0xFF && Math.Max(exponent - 1, 0) >= windowBase);
    }

    /// <summary>
    /// Adds sum · 2^(base − 149), the integer sum of a block's window, to <paramref name="buckets"/> exactly: three
    /// pieces of at most 24 bits (the last signed) at the keys of scales base, base + 24 and base + 48, so a bucket's
    /// capacity argument (below 2^24 an addition) holds as it does for single terms. Bucket k is at
    /// <paramref name="buckets"/> + k · <paramref name="stride"/> (tables that keep several sums side by side).
    /// </summary>
    public static unsafe void GatherScaled(long* buckets, long sum, int windowBase, int stride = 1)
    {
        int key = windowBase + 1;   // a positive float of biased exponent e has scale max(e − 1, 0)
        buckets[(long)key * stride] += sum & 0xFFFFFF;
        buckets[(long)(key + 24) * stride] += (sum >> 24) & 0xFFFFFF;
        buckets[(long)(key + 48) * stride] += sum >> 48;
    }

    /// <summary>
    /// Folds gathered buckets into the sum (exactly) and clears them: one set of <see cref="Buckets"/>, or several
    /// copies side by side (gatherers keep copies so that neighbouring terms of one exponent do not wait on each other).
    /// </summary>
    public void Fold(Span<long> buckets)
    {
        for (int copy = Buckets; copy < buckets.Length; copy += Buckets)
            for (int key = 0; key < Buckets; key++) buckets[key] += buckets[copy + key];
        for (int key = 0; key < Buckets; key++)
        {
            long mantissas = buckets[key];   // negative in the keys GatherScaled's top piece may use
            if (mantissas == 0) continue;
            int exponent = key & 0xFF;
            bool negative = key >= 256;
            if (exponent == 0xFF)
            {
                long infinities = mantissas >> 23;
                if (negative) NegativeInfinities += infinities;
                else PositiveInfinities += infinities;
                continue;
            }
            int shift = Math.Max(exponent - 1, 0);
            // mantissas · 2^shift spans at most three digits from digit shift / 32
            Int128 value = (Int128)mantissas << (shift & 31);
            if (negative) value = -value;
            int k = shift >> 5;
            _digits[k] += (long)(value & 0xFFFFFFFF);
            _digits[k + 1] += (long)((value >> 32) & 0xFFFFFFFF);
            _digits[k + 2] += (long)(value >> 64);
            Normalize(_digits);
        }
        buckets.Clear();
    }

    /// <summary>Adds <paramref name="other"/> (exactly).</summary>
    public void Add(ExactSum other)
    {
        for (int k = 0; k < Digits; k++) _digits[k] += other._digits[k];
        Normalize(_digits);
        PositiveInfinities += other.PositiveInfinities;
        NegativeInfinities += other.NegativeInfinities;
    }

    /// <summary>The sum rounded to the nearest double: ±∞ if there were infinite terms (NaN if both signs).</summary>
    public double ToDouble()
    {
        if (PositiveInfinities > 0 && NegativeInfinities > 0) return double.NaN;
        if (PositiveInfinities > 0) return double.PositiveInfinity;
        if (NegativeInfinities > 0) return double.NegativeInfinity;
        var total = BigInteger.Zero;
        for (int k = Digits - 1; k >= 0; k--) total = (total << 32) + _digits[k];
        // at most 2^341 in units of 2^-149: the double conversion is within range, and scaling by 2^-149 is exact
        // for every sum of magnitude 2^-1022 or more (smaller sums are rounded once more, to a subnormal)
        return Math.ScaleB((double)total, -149);
    }

    /// <summary>Writes the digits (normalised: each but the last in [0, 2^32)) and the infinity counts.</summary>
    public void WriteTo(Span<long> state)
    {
        _digits.CopyTo(state);
        state[Digits] = PositiveInfinities;
        state[Digits + 1] = NegativeInfinities;
    }

    /// <summary>
    /// Adds a state written by <see cref="WriteTo"/>, or the elementwise sum of up to 2^31 of them (digits need not
    /// be normalised). Returns false if the counts of infinities are negative.
    /// </summary>
    public bool AddState(ReadOnlySpan<long> state)
    {
        if (state[Digits] < 0 || state[Digits + 1] < 0) return false;
        // fold each digit through a carry so that large unnormalised digits cannot overflow one another
        Int128 carry = 0;
        for (int k = 0; k < Digits; k++)
        {
            Int128 v = (Int128)_digits[k] + state[k] + carry;
            if (k == Digits - 1)
            {
                if (v > long.MaxValue || v < long.MinValue) return false;
                _digits[k] = (long)v;
            }
            else
            {
                _digits[k] = (long)(v & 0xFFFFFFFF);
                carry = v >> 32;
            }
        }
        PositiveInfinities += state[Digits];
        NegativeInfinities += state[Digits + 1];
        return true;
    }

    /// <summary>Carries every digit but the last into [0, 2^32).</summary>
    private static void Normalize(long[] digits)
    {
        for (int k = 0; k < Digits - 1; k++)
        {
            long carry = digits[k] >> 32;   // arithmetic shift: floor division by 2^32
            digits[k] -= carry << 32;
            digits[k + 1] += carry;
        }
    }
}
