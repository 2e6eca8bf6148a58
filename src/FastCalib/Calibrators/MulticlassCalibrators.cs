using System.Text.Json;
using System.Text.Json.Serialization;

namespace FastCalib;

/// <summary>
/// A fitted map from a multiclass model's logits to calibrated probabilities. Apply to row-major [rows, classes]
/// logits, and save or load as JSON (<see cref="ToJson"/>, <see cref="FromJson"/>, a "kind" field naming the type, as
/// <see cref="BinaryCalibrator"/> does); a loaded calibrator gives exactly the outputs of the saved one. Today one
/// kind: <see cref="TemperatureCalibrator"/>.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "kind")]
[JsonDerivedType(typeof(TemperatureCalibrator), "temperature")]
public abstract record MulticlassCalibrator
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>Writes calibrated probabilities of <paramref name="logits"/> [rows, classes] into <paramref name="probabilities"/> (same shape; may be the same span).</summary>
    public abstract void Apply(ReadOnlySpan<float> logits, Span<float> probabilities, int classes, ComputeOptions options = default);

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

    private protected override string? Invalid() =>
        float.IsFinite(Temperature) && Temperature > 0 ? null : $"the temperature must be finite and greater than 0, got {Temperature}";
}
