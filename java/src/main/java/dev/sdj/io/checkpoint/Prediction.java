package dev.sdj.io.checkpoint;

/**
 * What the U-Net predicts, as diffusers' scheduler option {@code prediction_type} spells it
 * ("epsilon" or "v_prediction"), and where sdj learned it, for {@code sdj info}.
 */
public record Prediction(String type, String source) {
    public static final String EPSILON = "epsilon", V = "v_prediction";

    /** "eps"/"epsilon" or "v"/"v_prediction"/"v-prediction" (as users, LDM yaml and diffusers write it). */
    public static String parse(String text) {
        String t = text.strip().toLowerCase(java.util.Locale.ROOT);
        return switch (t) {
            case "eps", "epsilon" -> EPSILON;
            case "v", "v_prediction", "v-prediction" -> V;
            default -> throw new IllegalArgumentException("prediction '" + text + "': expected epsilon (eps) or v (v_prediction)");
        };
    }
}
