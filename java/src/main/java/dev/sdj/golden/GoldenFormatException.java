package dev.sdj.golden;

/** cases.json, or one case of it, does not follow the format of tests/golden/README.md. */
public final class GoldenFormatException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    public GoldenFormatException(String message) {
        super(message);
    }
}
