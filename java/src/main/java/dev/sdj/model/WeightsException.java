package dev.sdj.model;

/** A parameter a model needs is missing from its weights, or has another shape. */
public final class WeightsException extends IllegalArgumentException {
    private final String tensor;

    public WeightsException(String source, String tensor, String detail) {
        super(source + ": tensor '" + tensor + "': " + detail);
        this.tensor = tensor;
    }

    public String tensor() {
        return tensor;
    }
}
