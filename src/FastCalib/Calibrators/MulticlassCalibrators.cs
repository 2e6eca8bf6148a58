using System.Numerics.Tensors;
using System.Text.Json;
using System.Text.Json.Serialization;
using ILGPU;
using ILGPU.Runtime;

namespace FastCalib;

/// <summary>
/// A fitted map from a multiclass model's logits to calibrated probabilities. Apply to row-major [rows, classes]
/// logits, and save or load as JSON (<see cref="ToJson"/>, <see cref="FromJson"/>, a "kind" field naming the type, as
/// <see cref="BinaryCalibrator"/> does); a loaded calibrator gives exactly the outputs of the saved one. Kinds:
/// <see cref="TemperatureCalibrator"/>, <see cref="VectorScalingCalibrator"/>, <see cref="MatrixScalingCalibrator"/>,
/// <see cref="DirichletCalibrator"/> and <see cref="EnsembleTemperatureCalibrator"/>. Probabilities p from another
/// calibrator or model go in as logits ln p (softmax(ln p) = p).
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "kind")]
[JsonDerivedType(typeof(TemperatureCalibrator), "temperature")]
[JsonDerivedType(typeof(VectorScalingCalibrator), "vector")]
[JsonDerivedType(typeof(MatrixScalingCalibrator), "matrix")]
[JsonDerivedType(typeof(DirichletCalibrator), "dirichlet")]
[JsonDerivedType(typeof(EnsembleTemperatureCalibrator), "ets")]
public abstract record MulticlassCalibrator
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>Writes calibrated probabilities of <paramref name="logits"/> [rows, classes] into <paramref name="probabilities"/> (same shape; may be the same span).</summary>
    public abstract void Apply(ReadOnlySpan<float> logits, Span<float> probabilities, int classes, ComputeOptions options = default);

    /// <summary>
    /// The same on device views, on <paramref name="stream"/>'s accelerator (<paramref name="probabilities"/> may be
    /// <paramref name="logits"/> itself).
    /// </summary>
    public abstract void Apply(AcceleratorStream stream, ArrayView<float> logits, ArrayView<float> probabilities, int classes);

    /// <summary>The calibrator as JSON, with a "kind" field naming its type.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Reads a calibrator written by <see cref="ToJson"/>; its parameters are checked as the constructor checks them.</summary>
    public static MulticlassCalibrator FromJson(string json)
    {
        MulticlassCalibrator result;
        try
        {
            result = JsonSerializer.Deserialize<MulticlassCalibrator>(json, Json) ?? throw new JsonException("null");
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"MulticlassCalibrator.FromJson: not a saved calibrator ({e.Message}).", nameof(json), e);
        }
        if (result.Invalid() is { } why) throw new ArgumentException($"MulticlassCalibrator.FromJson: not a valid calibrator ({why}).", nameof(json));
        return result;
    }

    /// <summary>Why the parameters are not valid, or null.</summary>
    private protected abstract string? Invalid();
}

/// <summary>One temperature T: probabilities softmax(z / T) (Guo et al. 2017), fitted by <see cref="TemperatureScaling"/>.</summary>
/// <param name="Temperature">T, finite and greater than 0.</param>
public sealed record TemperatureCalibrator(float Temperature) : MulticlassCalibrator
{
    /// <summary>T* minimising the mean NLL of softmax(logits / T) on labelled logits (see <see cref="TemperatureScaling.Fit(ReadOnlySpan{float}, ReadOnlySpan{int}, int, ComputeOptions)"/>).</summary>
    public static TemperatureCalibrator Fit(ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, int classes, ComputeOptions options = default) =>
        new(TemperatureScaling.Fit(logits, labels, classes, options).Temperature);

    /// <inheritdoc/>
    public override void Apply(ReadOnlySpan<float> logits, Span<float> probabilities, int classes, ComputeOptions options = default) =>
        Softmax.Forward(logits, probabilities, classes, Temperature, options);

    /// <inheritdoc/>
    public override void Apply(AcceleratorStream stream, ArrayView<float> logits, ArrayView<float> probabilities, int classes) =>
        Softmax.Forward(stream, logits, probabilities, classes, Temperature);

    private protected override string? Invalid() =>
        float.IsFinite(Temperature) && Temperature > 0 ? null : $"the temperature must be finite and greater than 0, got {Temperature}";
}

/// <summary>The result of fitting a multiclass calibrator by Newton's method.</summary>
/// <param name="Calibrator">The fitted calibrator.</param>
/// <param name="NllBefore">Mean NLL of softmax(logits) on the fitting data.</param>
/// <param name="NllAfter">Mean NLL of the calibrated probabilities on the fitting data (without any penalty).</param>
/// <param name="Passes">Fused passes over the data (a full matrix's fit visits the rows once more, not counted, to copy its Hessian sample).</param>
/// <param name="Iterations">Newton steps taken.</param>
/// <param name="Converged">
/// True when half the Newton decrement, an estimate of the objective's distance to its optimum, fell below
/// <paramref name="Tolerance"/> · (1 + objective). False when the iteration limit came first, as for separable
/// classes or a class absent from the labels without a penalty, whose NLL keeps falling as parameters grow: the
/// parameters are then the last (finite) iterate. For ensemble temperature scaling: true when the temperature's
/// optimum lies inside its search range (the weights are solved exactly; no Newton iterations are counted).
/// </param>
/// <param name="Tolerance">The relative stopping tolerance.</param>
public sealed record MulticlassFit<TCalibrator>(TCalibrator Calibrator, double NllBefore, double NllAfter, int Passes, int Iterations, bool Converged, double Tolerance)
    where TCalibrator : MulticlassCalibrator;

/// <summary>
/// Vector scaling (Guo et al. 2017): probabilities softmax(w ⊙ z + b), a scale and a bias per class. Fitted by
/// Newton's method with the exact Hessian, each pass one fused SIMD traversal of the logits.
/// </summary>
/// <param name="Scale">w, one finite value per class (at least 2 classes).</param>
/// <param name="Bias">b, one finite value per class (centred: softmax ignores a common shift).</param>
public sealed record VectorScalingCalibrator(float[] Scale, float[] Bias) : MulticlassCalibrator
{
    /// <summary>w and b minimising the mean NLL on labelled logits [rows, classes], starting from w = 1, b = 0.</summary>
    /// <param name="logits">Row-major [rows, classes] logits; must be finite.</param>
    /// <param name="labels">One label per row, in [0, classes).</param>
    /// <param name="classes">Classes, at least 2.</param>
    /// <param name="options">Backend and threads (scalar or SIMD on the CPU); the GPU backend uploads the data and fits on the device, as the device-view overload does.</param>
    // int32 labels win a call with a literal such as [] that fits both label types
    [System.Runtime.CompilerServices.OverloadResolutionPriority(1)]
    public static MulticlassFit<VectorScalingCalibrator> Fit(ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, int classes, ComputeOptions options = default) =>
        AffineScaling.Fit("VectorScalingCalibrator.Fit", logits, labels, classes, full: false, logSoftmax: false, default, options,
            theta => From(theta, classes));

    /// <summary>The same fit with int64 labels (NumPy's and PyTorch's default).</summary>
    /// <inheritdoc cref="Fit(ReadOnlySpan{float}, ReadOnlySpan{int}, int, ComputeOptions)"/>
    public static MulticlassFit<VectorScalingCalibrator> Fit(ReadOnlySpan<float> logits, ReadOnlySpan<long> labels, int classes, ComputeOptions options = default)
    {
        using var y = NarrowedLabels.Of("VectorScalingCalibrator.Fit", nameof(labels), labels, 0, classes - 1, $"labels must be in [0, {classes})");
        return Fit(logits, y.Span, classes, options);
    }

    /// <summary>
    /// The same fit on a tensor of logits: its last dimension is the classes, the product of the others the rows
    /// (one label per row), up to 2^31 − 1 values.
    /// </summary>
    // int32 labels win a call with a literal such as [] that fits both label types
    [System.Runtime.CompilerServices.OverloadResolutionPriority(1)]
    public static MulticlassFit<VectorScalingCalibrator> Fit(in ReadOnlyTensorSpan<float> logits, ReadOnlySpan<int> labels, ComputeOptions options = default) =>
        TensorFits.Of("VectorScalingCalibrator.Fit", logits, labels, (z, y, classes) => Fit(z, y, classes, options));

    /// <summary>The same fit on a tensor of logits, with int64 labels.</summary>
    public static MulticlassFit<VectorScalingCalibrator> Fit(in ReadOnlyTensorSpan<float> logits, ReadOnlySpan<long> labels, ComputeOptions options = default) =>
        TensorFits.Of("VectorScalingCalibrator.Fit", logits, labels, (z, y, classes) => Fit(z, y, classes, options));

    /// <summary>
    /// The same fit on device views, on <paramref name="stream"/>'s accelerator: labels and logits are checked there,
    /// and each pass is one device kernel in float64 (as the scalar backend) of which only the sums come back. Waits
    /// for the stream.
    /// </summary>
    /// <inheritdoc cref="Fit(ReadOnlySpan{float}, ReadOnlySpan{int}, int, ComputeOptions)"/>
    public static MulticlassFit<VectorScalingCalibrator> Fit(AcceleratorStream stream, ArrayView<float> logits, ArrayView<int> labels, int classes) =>
        AffineScaling.Fit("VectorScalingCalibrator.Fit", stream, logits, labels, classes, full: false, logSoftmax: false, default, theta => From(theta, classes));

    /// <inheritdoc/>
    public override void Apply(ReadOnlySpan<float> logits, Span<float> probabilities, int classes, ComputeOptions options = default) =>
        AffineScaling.Apply("VectorScalingCalibrator.Apply", logits, probabilities, classes, Scale, Bias, full: false, logSoftmax: false, options);

    /// <inheritdoc/>
    public override void Apply(AcceleratorStream stream, ArrayView<float> logits, ArrayView<float> probabilities, int classes) =>
        AffineDevice.Apply("VectorScalingCalibrator.Apply", stream, logits, probabilities, classes, Scale, Bias, full: false, logSoftmax: false);

    /// <summary>The calibrator of fitted parameters θ (weights, then biases).</summary>
    internal static VectorScalingCalibrator From(double[] theta, int classes)
    {
        var (weights, bias) = AffineScaling.Parameters(theta, classes, full: false);
        return new(weights, bias);
    }

    /// <summary>Equal when every parameter is (the arrays compared element by element, not by reference).</summary>
    public bool Equals(VectorScalingCalibrator? other) => other is not null && Scale.AsSpan().SequenceEqual(other.Scale) && Bias.AsSpan().SequenceEqual(other.Bias);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Scale?.Length ?? 0, Bias?.Length ?? 0);

    private protected override string? Invalid() => AffineScaling.Invalid(Scale, Bias, full: false);
}

/// <summary>
/// Matrix scaling (Guo et al. 2017): probabilities softmax(A z + b) with a full C x C matrix, optionally with the ODIR
/// penalty of Kull et al. 2019 on A's off-diagonal entries and on b. For up to 256 classes.
/// </summary>
/// <param name="Weights">A, row-major C x C, finite.</param>
/// <param name="Bias">b, C finite values.</param>
public sealed record MatrixScalingCalibrator(float[] Weights, float[] Bias) : MulticlassCalibrator
{
    /// <summary>
    /// A and b minimising mean NLL + λ/(C(C−1)) Σ_{i≠j} A_ij² + μ/C Σ b_i², from A = I, b = 0, by Newton steps with the
    /// exact gradient (one fused pass each) and the Hessian of an evenly spaced sample of 4096 rows; beyond 32 classes
    /// by limited-memory BFGS steps whose initial model is that sample's per-class Hessian blocks (linear convergence:
    /// many more passes).
    /// </summary>
    /// <param name="logits">Row-major [rows, classes] logits; must be finite.</param>
    /// <param name="labels">One label per row, in [0, classes).</param>
    /// <param name="classes">Classes, 2 to 256.</param>
    /// <param name="penalty">The ODIR penalty (default none: plain maximum likelihood).</param>
    /// <param name="options">Backend and threads (scalar or SIMD on the CPU); the GPU backend uploads the data and fits on the device, as the device-view overload does.</param>
    // int32 labels win a call with a literal such as [] that fits both label types
    [System.Runtime.CompilerServices.OverloadResolutionPriority(1)]
    public static MulticlassFit<MatrixScalingCalibrator> Fit(ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, int classes, OdirPenalty penalty = default, ComputeOptions options = default) =>
        AffineScaling.Fit("MatrixScalingCalibrator.Fit", logits, labels, classes, full: true, logSoftmax: false, penalty, options,
            theta => From(theta, classes));

    /// <summary>The same fit with int64 labels (NumPy's and PyTorch's default).</summary>
    /// <inheritdoc cref="Fit(ReadOnlySpan{float}, ReadOnlySpan{int}, int, OdirPenalty, ComputeOptions)"/>
    public static MulticlassFit<MatrixScalingCalibrator> Fit(ReadOnlySpan<float> logits, ReadOnlySpan<long> labels, int classes, OdirPenalty penalty = default, ComputeOptions options = default)
    {
        using var y = NarrowedLabels.Of("MatrixScalingCalibrator.Fit", nameof(labels), labels, 0, classes - 1, $"labels must be in [0, {classes})");
        return Fit(logits, y.Span, classes, penalty, options);
    }

    /// <summary>
    /// The same fit on a tensor of logits: its last dimension is the classes, the product of the others the rows
    /// (one label per row), up to 2^31 − 1 values.
    /// </summary>
    // int32 labels win a call with a literal such as [] that fits both label types
    [System.Runtime.CompilerServices.OverloadResolutionPriority(1)]
    public static MulticlassFit<MatrixScalingCalibrator> Fit(in ReadOnlyTensorSpan<float> logits, ReadOnlySpan<int> labels, OdirPenalty penalty = default, ComputeOptions options = default) =>
        TensorFits.Of("MatrixScalingCalibrator.Fit", logits, labels, (z, y, classes) => Fit(z, y, classes, penalty, options));

    /// <summary>The same fit on a tensor of logits, with int64 labels.</summary>
    public static MulticlassFit<MatrixScalingCalibrator> Fit(in ReadOnlyTensorSpan<float> logits, ReadOnlySpan<long> labels, OdirPenalty penalty = default, ComputeOptions options = default) =>
        TensorFits.Of("MatrixScalingCalibrator.Fit", logits, labels, (z, y, classes) => Fit(z, y, classes, penalty, options));

    /// <summary>
    /// The same fit on device views, on <paramref name="stream"/>'s accelerator: labels and logits are checked there,
    /// and each pass is one device kernel in float64 (as the scalar backend) of which only the sums come back. Waits
    /// for the stream.
    /// </summary>
    /// <inheritdoc cref="Fit(ReadOnlySpan{float}, ReadOnlySpan{int}, int, OdirPenalty, ComputeOptions)"/>
    public static MulticlassFit<MatrixScalingCalibrator> Fit(AcceleratorStream stream, ArrayView<float> logits, ArrayView<int> labels, int classes, OdirPenalty penalty = default) =>
        AffineScaling.Fit("MatrixScalingCalibrator.Fit", stream, logits, labels, classes, full: true, logSoftmax: false, penalty, theta => From(theta, classes));

    /// <inheritdoc/>
    public override void Apply(ReadOnlySpan<float> logits, Span<float> probabilities, int classes, ComputeOptions options = default) =>
        AffineScaling.Apply("MatrixScalingCalibrator.Apply", logits, probabilities, classes, Weights, Bias, full: true, logSoftmax: false, options);

    /// <inheritdoc/>
    public override void Apply(AcceleratorStream stream, ArrayView<float> logits, ArrayView<float> probabilities, int classes) =>
        AffineDevice.Apply("MatrixScalingCalibrator.Apply", stream, logits, probabilities, classes, Weights, Bias, full: true, logSoftmax: false);

    /// <summary>The calibrator of fitted parameters θ (weights, then biases).</summary>
    internal static MatrixScalingCalibrator From(double[] theta, int classes)
    {
        var (weights, bias) = AffineScaling.Parameters(theta, classes, full: true);
        return new(weights, bias);
    }

    /// <summary>Equal when every parameter is (the arrays compared element by element, not by reference).</summary>
    public bool Equals(MatrixScalingCalibrator? other) => other is not null && Weights.AsSpan().SequenceEqual(other.Weights) && Bias.AsSpan().SequenceEqual(other.Bias);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Weights?.Length ?? 0, Bias?.Length ?? 0);

    private protected override string? Invalid() => AffineScaling.Invalid(Weights, Bias, full: true);
}

/// <summary>
/// Dirichlet calibration (Kull et al. 2019): probabilities softmax(A ln q + b) of the model's probabilities
/// q = softmax(z), i.e. matrix scaling of the log-probabilities, optionally with the ODIR penalty. For up to 256 classes.
/// </summary>
/// <param name="Weights">A, row-major C x C, finite.</param>
/// <param name="Bias">b, C finite values.</param>
public sealed record DirichletCalibrator(float[] Weights, float[] Bias) : MulticlassCalibrator
{
    /// <summary>A and b as <see cref="MatrixScalingCalibrator.Fit(ReadOnlySpan{float}, ReadOnlySpan{int}, int, OdirPenalty, ComputeOptions)"/> finds them, on log-softmax(logits).</summary>
    /// <inheritdoc cref="MatrixScalingCalibrator.Fit(ReadOnlySpan{float}, ReadOnlySpan{int}, int, OdirPenalty, ComputeOptions)"/>
    // int32 labels win a call with a literal such as [] that fits both label types
    [System.Runtime.CompilerServices.OverloadResolutionPriority(1)]
    public static MulticlassFit<DirichletCalibrator> Fit(ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, int classes, OdirPenalty penalty = default, ComputeOptions options = default) =>
        AffineScaling.Fit("DirichletCalibrator.Fit", logits, labels, classes, full: true, logSoftmax: true, penalty, options,
            theta => From(theta, classes));

    /// <summary>The same fit with int64 labels (NumPy's and PyTorch's default).</summary>
    /// <inheritdoc cref="Fit(ReadOnlySpan{float}, ReadOnlySpan{int}, int, OdirPenalty, ComputeOptions)"/>
    public static MulticlassFit<DirichletCalibrator> Fit(ReadOnlySpan<float> logits, ReadOnlySpan<long> labels, int classes, OdirPenalty penalty = default, ComputeOptions options = default)
    {
        using var y = NarrowedLabels.Of("DirichletCalibrator.Fit", nameof(labels), labels, 0, classes - 1, $"labels must be in [0, {classes})");
        return Fit(logits, y.Span, classes, penalty, options);
    }

    /// <summary>
    /// The same fit on a tensor of logits: its last dimension is the classes, the product of the others the rows
    /// (one label per row), up to 2^31 − 1 values.
    /// </summary>
    // int32 labels win a call with a literal such as [] that fits both label types
    [System.Runtime.CompilerServices.OverloadResolutionPriority(1)]
    public static MulticlassFit<DirichletCalibrator> Fit(in ReadOnlyTensorSpan<float> logits, ReadOnlySpan<int> labels, OdirPenalty penalty = default, ComputeOptions options = default) =>
        TensorFits.Of("DirichletCalibrator.Fit", logits, labels, (z, y, classes) => Fit(z, y, classes, penalty, options));

    /// <summary>The same fit on a tensor of logits, with int64 labels.</summary>
    public static MulticlassFit<DirichletCalibrator> Fit(in ReadOnlyTensorSpan<float> logits, ReadOnlySpan<long> labels, OdirPenalty penalty = default, ComputeOptions options = default) =>
        TensorFits.Of("DirichletCalibrator.Fit", logits, labels, (z, y, classes) => Fit(z, y, classes, penalty, options));

    /// <summary>
    /// The same fit on device views, on <paramref name="stream"/>'s accelerator: labels and logits are checked there,
    /// and each pass is one device kernel in float64 (as the scalar backend) of which only the sums come back. Waits
    /// for the stream.
    /// </summary>
    /// <inheritdoc cref="Fit(ReadOnlySpan{float}, ReadOnlySpan{int}, int, OdirPenalty, ComputeOptions)"/>
    public static MulticlassFit<DirichletCalibrator> Fit(AcceleratorStream stream, ArrayView<float> logits, ArrayView<int> labels, int classes, OdirPenalty penalty = default) =>
        AffineScaling.Fit("DirichletCalibrator.Fit", stream, logits, labels, classes, full: true, logSoftmax: true, penalty, theta => From(theta, classes));

    /// <inheritdoc/>
    public override void Apply(ReadOnlySpan<float> logits, Span<float> probabilities, int classes, ComputeOptions options = default) =>
        AffineScaling.Apply("DirichletCalibrator.Apply", logits, probabilities, classes, Weights, Bias, full: true, logSoftmax: true, options);

    /// <inheritdoc/>
    public override void Apply(AcceleratorStream stream, ArrayView<float> logits, ArrayView<float> probabilities, int classes) =>
        AffineDevice.Apply("DirichletCalibrator.Apply", stream, logits, probabilities, classes, Weights, Bias, full: true, logSoftmax: true);

    /// <summary>The calibrator of fitted parameters θ (weights, then biases).</summary>
    internal static DirichletCalibrator From(double[] theta, int classes)
    {
        var (weights, bias) = AffineScaling.Parameters(theta, classes, full: true);
        return new(weights, bias);
    }

    /// <summary>Equal when every parameter is (the arrays compared element by element, not by reference).</summary>
    public bool Equals(DirichletCalibrator? other) => other is not null && Weights.AsSpan().SequenceEqual(other.Weights) && Bias.AsSpan().SequenceEqual(other.Bias);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Weights?.Length ?? 0, Bias?.Length ?? 0);

    private protected override string? Invalid() => AffineScaling.Invalid(Weights, Bias, full: true);
}

/// <summary>
/// Ensemble temperature scaling (Zhang et al. 2020, "Mix-n-Match"): p = w₀ softmax(z / T) + w₁ softmax(z) + w₂ / C,
/// a mixture of the temperature-scaled, the uncalibrated and the uniform prediction.
/// </summary>
/// <param name="Temperature">T, finite and greater than 0.</param>
/// <param name="Weights">w₀, w₁, w₂: three finite values, at least 0, summing to 1.</param>
public sealed record EnsembleTemperatureCalibrator(float Temperature, float[] Weights) : MulticlassCalibrator
{
    /// <summary>
    /// T by <see cref="TemperatureScaling"/>, then the weights minimising the mean NLL of the mixture over the simplex
    /// (a convex problem in the weights, solved exactly from each row's two label probabilities).
    /// </summary>
    /// <param name="logits">Row-major [rows, classes] logits; must be finite.</param>
    /// <param name="labels">One label per row, in [0, classes).</param>
    /// <param name="classes">Classes, at least 2.</param>
    /// <param name="options">Backend and threads (scalar or SIMD on the CPU); the GPU backend uploads the data and fits on the device, as the device-view overload does.</param>
    // int32 labels win a call with a literal such as [] that fits both label types
    [System.Runtime.CompilerServices.OverloadResolutionPriority(1)]
    public static MulticlassFit<EnsembleTemperatureCalibrator> Fit(ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, int classes, ComputeOptions options = default) =>
        EnsembleTemperature.Fit(logits, labels, classes, options);

    /// <summary>The same fit with int64 labels (NumPy's and PyTorch's default).</summary>
    /// <inheritdoc cref="Fit(ReadOnlySpan{float}, ReadOnlySpan{int}, int, ComputeOptions)"/>
    public static MulticlassFit<EnsembleTemperatureCalibrator> Fit(ReadOnlySpan<float> logits, ReadOnlySpan<long> labels, int classes, ComputeOptions options = default)
    {
        using var y = NarrowedLabels.Of("EnsembleTemperatureCalibrator.Fit", nameof(labels), labels, 0, classes - 1, $"labels must be in [0, {classes})");
        return Fit(logits, y.Span, classes, options);
    }

    /// <summary>
    /// The same fit on a tensor of logits: its last dimension is the classes, the product of the others the rows
    /// (one label per row), up to 2^31 − 1 values.
    /// </summary>
    // int32 labels win a call with a literal such as [] that fits both label types
    [System.Runtime.CompilerServices.OverloadResolutionPriority(1)]
    public static MulticlassFit<EnsembleTemperatureCalibrator> Fit(in ReadOnlyTensorSpan<float> logits, ReadOnlySpan<int> labels, ComputeOptions options = default) =>
        TensorFits.Of("EnsembleTemperatureCalibrator.Fit", logits, labels, (z, y, classes) => Fit(z, y, classes, options));

    /// <summary>The same fit on a tensor of logits, with int64 labels.</summary>
    public static MulticlassFit<EnsembleTemperatureCalibrator> Fit(in ReadOnlyTensorSpan<float> logits, ReadOnlySpan<long> labels, ComputeOptions options = default) =>
        TensorFits.Of("EnsembleTemperatureCalibrator.Fit", logits, labels, (z, y, classes) => Fit(z, y, classes, options));

    /// <summary>
    /// The same fit on device views, on <paramref name="stream"/>'s accelerator: T* and each row's two label
    /// probabilities are computed there (8 bytes a row come back), the weights on the host. Waits for the stream.
    /// </summary>
    /// <inheritdoc cref="Fit(ReadOnlySpan{float}, ReadOnlySpan{int}, int, ComputeOptions)"/>
    public static MulticlassFit<EnsembleTemperatureCalibrator> Fit(AcceleratorStream stream, ArrayView<float> logits, ArrayView<int> labels, int classes) =>
        EnsembleTemperature.Fit(stream, logits, labels, classes);

    /// <inheritdoc/>
    public override void Apply(ReadOnlySpan<float> logits, Span<float> probabilities, int classes, ComputeOptions options = default) =>
        EnsembleTemperature.Apply(this, logits, probabilities, classes, options);

    /// <inheritdoc/>
    public override void Apply(AcceleratorStream stream, ArrayView<float> logits, ArrayView<float> probabilities, int classes) =>
        EnsembleTemperature.Apply(this, stream, logits, probabilities, classes);

    /// <summary>Equal when every parameter is (the arrays compared element by element, not by reference).</summary>
    public bool Equals(EnsembleTemperatureCalibrator? other) => other is not null && Temperature.Equals(other.Temperature) && Weights.AsSpan().SequenceEqual(other.Weights);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Temperature, Weights?.Length ?? 0);

    private protected override string? Invalid()
    {
        if (!(float.IsFinite(Temperature) && Temperature > 0)) return $"the temperature must be finite and greater than 0, got {Temperature}";
        if (Weights is not { Length: 3 }) return $"there must be 3 weights, got {Weights?.Length ?? 0}";
        foreach (float w in Weights)
            if (!(w >= 0 && w <= 1)) return $"every weight must be in [0, 1], got {w}";
        float sum = Weights[0] + Weights[1] + Weights[2];
        return Math.Abs(sum - 1) <= 1e-5f ? null : $"the weights must sum to 1, got {sum}";
    }
}

/// <summary>The tensor-span overloads of the multiclass fits: one dense block of rows handed to the span fit.</summary>
internal static class TensorFits
{
    internal delegate T SpanFit<T>(ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, int classes);

    public static T Of<T>(string op, in ReadOnlyTensorSpan<float> logits, ReadOnlySpan<int> labels, SpanFit<T> fit)
    {
        int classes = TensorRows.Classes(op, nameof(logits), logits);
        long rows = TensorRows.Rows(op, nameof(logits), logits, classes);
        Check.PerRow(op, nameof(labels), labels.Length, rows);
        if (!TensorRows.OneBlock(logits.FlattenedLength))
            throw new ArgumentException($"{op}: {logits.FlattenedLength} logits are more than this fit takes in one call (2^31 - 1 values); fit on a sample of the rows, or use TemperatureScaling, which streams.", nameof(logits));
        T result = default!;
        TensorRows.ForEachBlock(logits, classes, labels, (z, y) => result = fit(z, y, classes));
        return result;
    }

    public static T Of<T>(string op, in ReadOnlyTensorSpan<float> logits, ReadOnlySpan<long> labels, SpanFit<T> fit)
    {
        int classes = TensorRows.Classes(op, nameof(logits), logits);
        using var y = NarrowedLabels.Of(op, nameof(labels), labels, 0, classes - 1, $"labels must be in [0, {classes})");
        return Of(op, logits, y.Span, fit);
    }
}
