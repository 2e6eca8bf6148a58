namespace FastCalib;

// The accumulator as a flat vector of 64-bit integers whose elementwise sum is the merge, so that any engine that
// sums integer vectors (MPI or NCCL all-reduce, Spark's treeAggregate, a database SUM) merges partial results
// exactly. Every number the accumulator holds is an integer already (ExactSum for NLL and Brier); Int128 sums travel
// as 32-bit digits, which 2^31 states can add without overflow.
//
// The header survives summation too: each field is parts · value, where parts is 1 in each state, so a sum of P
// states holds P · value. A fingerprint f of the shape (bins, rule, thresholds) and f² are stored the same way;
// P · f and P · f² both come out right only if all P states had the same f (equality in Cauchy–Schwarz), so a sum
// of states of different shapes is refused even where their fields happen to average to a valid shape.
public sealed partial class CalibrationAccumulator
{
    /// <summary>The layout version <see cref="ToState"/> writes and <see cref="FromState"/> reads.</summary>
    public const int StateVersion = 1;

    /// <summary>The most states one sum may add up (2^23): fingerprint² · parts stays below 2^63.</summary>
    public const long MaxStateParts = 1L << 23;

    /// <summary>'FCAS': marks a vector as an accumulator state.</summary>
    private const long StateMark = 0x46434153;

    private const int HeaderFields = 8;

    /// <summary>Longs per Int128 sum: two 32-bit digits and a signed rest.</summary>
    private const int WideDigits = 3;

    /// <summary>The length of this accumulator's <see cref="ToState"/> vector (it depends on bins, rule and thresholds only).</summary>
    public int StateLength => StateLayout.Of(Bins, Rule, _thresholds.Length).Length;

    /// <summary>
    /// Everything this accumulator holds as a vector of 64-bit integers whose elementwise sum over accumulators of the
    /// same bins, rule and thresholds is their merge: sum the vectors with any engine that adds integers (an MPI or
    /// NCCL all-reduce, Spark, a database SUM; up to <see cref="MaxStateParts"/> of them) and
    /// <see cref="FromState"/> gives the accumulator of all the data, equal bit for bit to one that saw it all. The
    /// vector starts with a versioned header (<see cref="StateVersion"/>) that identifies its shape.
    /// </summary>
    public long[] ToState()
    {
        if (Bootstrap is not null)
            throw new InvalidOperationException("CalibrationAccumulator.ToState: a state does not carry bootstrap replicas; merge accumulators that keep them with Merge, or save the state of one without them.");
        if (_edges is not null)
            throw new InvalidOperationException("CalibrationAccumulator.ToState: a state does not carry custom bin edges (layout version 1 holds equal-width bins only); merge such accumulators with Merge.");
        var layout = StateLayout.Of(Bins, Rule, _thresholds.Length);
        var state = new long[layout.Length];
        long fingerprint = Fingerprint(Bins, Rule, _thresholds);
        state[0] = 1;
        state[1] = StateMark;
        state[2] = StateVersion;
        state[3] = Bins;
        state[4] = (long)Rule;
        state[5] = _thresholds.Length;
        state[6] = fingerprint;
        state[7] = fingerprint * fingerprint;
        for (int t = 0; t < _thresholds.Length; t++) state[HeaderFields + t] = BitConverter.SingleToInt32Bits(_thresholds[t]);

        var body = state.AsSpan(layout.Body);
        var t0 = _totals;
        body[layout.Rows] = t0.Rows;
        body[layout.RowsCorrect] = t0.RowsCorrect;
        WriteWide(body.Slice(layout.UnitsTotal, WideDigits), t0.UnitsTotal);
        body[layout.Scored] = t0.Scored;
        for (int b = 0; b < layout.Slots; b++)
        {
            body[layout.Count + b] = t0.Count[b];
            body[layout.Correct + b] = t0.Correct[b];
            WriteWide(body.Slice(layout.Units + WideDigits * b, WideDigits), t0.Units[b]);
        }
        for (int t = 0; t < layout.Thresholds; t++)
        {
            body[layout.AboveCount + t] = t0.AboveCount[t];
            body[layout.AboveCorrect + t] = t0.AboveCorrect[t];
        }
        t0.NegLogLikelihood.WriteTo(body.Slice(layout.NegLogLikelihood, ExactSum.StateLength));
        t0.Brier.WriteTo(body.Slice(layout.Brier, ExactSum.StateLength));
        return state;
    }

    /// <summary>
    /// The accumulator a <see cref="ToState"/> vector (or the elementwise sum of several of one shape) describes.
    /// Throws <see cref="ArgumentException"/> naming what is wrong if the vector is not such a state: another
    /// version, a length that does not match its header, a sum of states of different bins, rules or thresholds, or
    /// counts that cannot be (negative, more correct than counted).
    /// </summary>
    public static CalibrationAccumulator FromState(ReadOnlySpan<long> state)
    {
        const string op = "CalibrationAccumulator.FromState";
        if (state.Length < HeaderFields)
            throw new ArgumentException($"{op}: a state has at least {HeaderFields} values, got {state.Length}.", nameof(state));
        long parts = state[0];
        if (parts < 1 || parts > MaxStateParts || state[1] != parts * StateMark)
            throw new ArgumentException($"{op}: this is not a calibration accumulator state (its header lacks the state's mark).", nameof(state));
        ArgumentException Mixed() => new($"{op}: the state is a sum of {parts} states of different shapes (bins, binning rule or thresholds differ); only states of one shape add up.", nameof(state));
        long version = Field(state, 2, parts) ?? throw Mixed();
        if (version != StateVersion)
            throw new ArgumentException($"{op}: the state has layout version {version}; this library reads version {StateVersion}.", nameof(state));
        long bins = Field(state, 3, parts) ?? throw Mixed(), rule = Field(state, 4, parts) ?? throw Mixed(), thresholdCount = Field(state, 5, parts) ?? throw Mixed();
        if (bins < 1 || bins > Binning.MaxBins || !Enum.IsDefined((BinningRule)rule) || thresholdCount < 0 || thresholdCount > state.Length)
            throw Mixed();
        var thresholds = new float[thresholdCount];
        for (int t = 0; t < thresholdCount; t++)
        {
            long bits = Field(state, HeaderFields + t, parts) ?? throw Mixed();
            if (bits < int.MinValue || bits > int.MaxValue) throw Mixed();
            thresholds[t] = BitConverter.Int32BitsToSingle((int)bits);
            if (!(thresholds[t] >= 0 && thresholds[t] <= 1)) throw Mixed();
        }
        long fingerprint = Fingerprint((int)bins, (BinningRule)rule, thresholds);
        if (state[6] != parts * fingerprint || state[7] != parts * fingerprint * fingerprint) throw Mixed();

        var layout = StateLayout.Of((int)bins, (BinningRule)rule, (int)thresholdCount);
        if (state.Length != layout.Length)
            throw new ArgumentException($"{op}: a state of {bins} bins, rule {(BinningRule)rule} and {thresholdCount} thresholds has {layout.Length} values; this one has {state.Length} (cut short, or not one vector).", nameof(state));
        var accumulator = new CalibrationAccumulator((int)bins, (BinningRule)rule, thresholds);
        var body = state[layout.Body..];
        var into = accumulator._totals;
        into.Rows = body[layout.Rows];
        into.RowsCorrect = body[layout.RowsCorrect];
        into.UnitsTotal = ReadWide(body.Slice(layout.UnitsTotal, WideDigits));
        into.Scored = body[layout.Scored];
        // what any sum of real states satisfies: counts from 0 to the rows, confidences (2^40 units each) in [0, 1]
        Int128 one = (Int128)(long)ConfidenceUnits.One;
        bool possible = into.Rows >= 0 && into.RowsCorrect >= 0 && into.RowsCorrect <= into.Rows && into.UnitsTotal >= 0
            && into.UnitsTotal <= into.Rows * one && into.Scored >= 0 && into.Scored <= into.Rows;
        long binned = 0;
        for (int b = 0; b < layout.Slots; b++)
        {
            into.Count[b] = body[layout.Count + b];
            into.Correct[b] = body[layout.Correct + b];
            into.Units[b] = ReadWide(body.Slice(layout.Units + WideDigits * b, WideDigits));
            possible &= into.Count[b] >= 0 && into.Correct[b] >= 0 && into.Correct[b] <= into.Count[b] && into.Units[b] >= 0
                && into.Units[b] <= into.Count[b] * one && into.Count[b] <= into.Rows - binned;
            if (possible) binned += into.Count[b];
        }
        for (int t = 0; t < layout.Thresholds; t++)
        {
            into.AboveCount[t] = body[layout.AboveCount + t];
            into.AboveCorrect[t] = body[layout.AboveCorrect + t];
            possible &= into.AboveCount[t] >= 0 && into.AboveCorrect[t] >= 0 && into.AboveCorrect[t] <= into.AboveCount[t] && into.AboveCount[t] <= into.Rows;
        }
        possible &= into.NegLogLikelihood.AddState(body.Slice(layout.NegLogLikelihood, ExactSum.StateLength));
        possible &= into.Brier.AddState(body.Slice(layout.Brier, ExactSum.StateLength));
        if (!possible)
            throw new ArgumentException($"{op}: the state's counts cannot be (negative, more correct rows than rows, more binned or scored rows than rows, or a mean confidence outside [0, 1]); it was altered or is not a sum of states.", nameof(state));
        return accumulator;
    }

    /// <summary>Header field <paramref name="i"/> of a sum of <paramref name="parts"/> states, or null if it is not a multiple of parts.</summary>
    private static long? Field(ReadOnlySpan<long> state, int i, long parts) => state[i] % parts == 0 ? state[i] / parts : null;

    /// <summary>A 20-bit number of the shape, never 0 (FNV-1a over bins, rule and the thresholds' bits).</summary>
    private static long Fingerprint(int bins, BinningRule rule, ReadOnlySpan<float> thresholds)
    {
        uint h = 2166136261;
        void Mix(int v)
        {
            for (int k = 0; k < 4; k++)
            {
                h ^= (uint)(v >> (8 * k)) & 0xFF;
                h *= 16777619;
            }
        }
        Mix(bins);
        Mix((int)rule);
        Mix(thresholds.Length);
        foreach (float t in thresholds) Mix(BitConverter.SingleToInt32Bits(t));
        return (h & 0xFFFFF) | 1;
    }

    private static void WriteWide(Span<long> digits, Int128 value)
    {
        digits[0] = (long)(value & 0xFFFFFFFF);
        digits[1] = (long)((value >> 32) & 0xFFFFFFFF);
        digits[2] = (long)(value >> 64);
    }

    /// <summary>The Int128 of written digits or of sums of up to 2^31 of them (each digit below 2^63 in magnitude).</summary>
    private static Int128 ReadWide(ReadOnlySpan<long> digits) => digits[0] + ((Int128)digits[1] << 32) + ((Int128)digits[2] << 64);

    /// <summary>Where each number lives in a state's body (after the header and the thresholds).</summary>
    private readonly record struct StateLayout(int Slots, int Thresholds)
    {
        public static StateLayout Of(int bins, BinningRule rule, int thresholds) => new(Binning.Slots(bins, rule), thresholds);

        public int Body => HeaderFields + Thresholds;
        public int Rows => 0;
        public int RowsCorrect => 1;
        public int UnitsTotal => 2;
        public int Scored => UnitsTotal + WideDigits;
        public int Count => Scored + 1;
        public int Correct => Count + Slots;
        public int Units => Correct + Slots;
        public int AboveCount => Units + WideDigits * Slots;
        public int AboveCorrect => AboveCount + Thresholds;
        public int NegLogLikelihood => AboveCorrect + Thresholds;
        public int Brier => NegLogLikelihood + ExactSum.StateLength;
        public int Length => Body + Brier + ExactSum.StateLength;
    }
}
