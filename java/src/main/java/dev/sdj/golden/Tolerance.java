package dev.sdj.golden;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sdj.core.DType;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A case's "tolerance": top-level limits and per-output ones. An entry in "per_output" replaces
 * the top-level limits for that output as a whole: the schedule cases give {@code max_abs 0} at the
 * top (timesteps are exact) and {@code sigmas: {rel_l2: 1e-6}}, which only makes sense if the exact
 * limit does not also apply to the sigmas (README: "sigmas: ≤ 1e-6 relative").
 */
public record Tolerance(Limits top, Map<String, Limits> perOutput) {

    /**
     * max_abs and rel_l2 limits; null where not given. Every limit given must hold. {@code maxAbsOfRef}
     * (reduced-precision runs only, never in a case file) widens the max_abs limit to that fraction of the
     * reference's largest magnitude: max|got − expected| ≤ max(maxAbs, maxAbsOfRef · max|expected|).
     */
    public record Limits(Double maxAbs, Double relL2, Double maxAbsOfRef) {
        /** No limit given would pass anything; such an output must match exactly instead. */
        public static final Limits EXACT = new Limits(0.0, null);

        public Limits(Double maxAbs, Double relL2) {
            this(maxAbs, relL2, null);
        }

        boolean isEmpty() {
            return maxAbs == null && relL2 == null && maxAbsOfRef == null;
        }

        /** Only max_abs 0: the output must be bit-exact (timesteps). */
        boolean isExact() {
            return maxAbs != null && maxAbs == 0 && relL2 == null && maxAbsOfRef == null;
        }
    }

    /*
     * Reduced-precision limits. A backend that stores weights and activations in fp16 (unit roundoff
     * u = 2^-11 = 4.9e-4) or bf16 (u = 2^-8 = 3.9e-3) and accumulates in fp32 rounds every op's output once.
     * Measured on the golden model cases with the CPU backend rounding every weight and every op's output
     * to the dtype (a stand-in for such a GPU backend):
     *   single forwards (unet, vae-*):  rel_l2 ≤ 3.0e-3 (fp16) / 2.5e-2 (bf16), max_abs ≤ 3.1e-3 / 2.8e-2 of max|ref|;
     *   e2e outputs and per-step records, worst the CFG-guided noise (guidance 7.5 amplifies the difference of
     *   the two predictions): rel_l2 ≤ 6.9e-3 / 5.5e-2, max_abs ≤ 9.9e-3 / 6.4e-2 of max|ref|.
     * The limits are about 3x the worst of these (6x and more for a single forward) and keep the 8x ratio
     * of the two dtypes' u; a real bug (a wrong layout, a missing bias, swapped operands) is O(1).
     */
    /** fp16: rel_l2 ≤ 2e-2 and max_abs ≤ 3e-2 · max|expected|. */
    public static final Limits FP16 = new Limits(null, 2e-2, 3e-2);
    /** bf16: rel_l2 ≤ 0.15 and max_abs ≤ 0.2 · max|expected|. */
    public static final Limits BF16 = new Limits(null, 0.15, 0.2);

    public Tolerance {
        perOutput = Map.copyOf(perOutput);
    }

    /** The limits that apply to {@code output}. */
    public Limits forOutput(String output) {
        Limits l = perOutput.getOrDefault(output, top);
        return l.isEmpty() ? Limits.EXACT : l;
    }

    /**
     * The tolerance for outputs computed by a backend in {@code compute} dtype: this one for fp32; for fp16 and
     * bf16 every output's limits widened to at least {@link #FP16} / {@link #BF16} ({@link #widen}).
     */
    public Tolerance forCompute(DType compute) {
        if (compute == null || compute == DType.F32) return this;
        Map<String, Limits> per = new LinkedHashMap<>();
        perOutput.forEach((k, v) -> per.put(k, widen(v, compute)));
        return new Tolerance(widen(top, compute), per);
    }

    /**
     * {@code own} widened for a {@code compute}-dtype run: rel_l2 ≤ the larger of the two, max_abs ≤ the larger of
     * {@code own}'s and the dtype's fraction of max|expected|. An exact limit (max_abs 0: timesteps, computed on
     * the host) and an absent one (exact too) stay as they are.
     */
    public static Limits widen(Limits own, DType compute) {
        if (compute == null || compute == DType.F32 || own.isEmpty() || own.isExact()) return own;
        Limits r = switch (compute) {
            case F16 -> FP16;
            case BF16 -> BF16;
            default -> throw new IllegalArgumentException("no reduced-precision tolerance for " + compute);
        };
        double rel = own.relL2() == null ? r.relL2() : Math.max(own.relL2(), r.relL2());
        return new Limits(own.maxAbs(), rel, r.maxAbsOfRef());
    }

    /** Parses a case's "tolerance" object; null or missing means exact. */
    static Tolerance parse(JsonNode node) {
        if (node == null || node.isNull()) return new Tolerance(new Limits(null, null), Map.of());
        if (!node.isObject()) throw new GoldenFormatException("\"tolerance\" must be an object, is " + node);
        Map<String, Limits> per = new LinkedHashMap<>();
        JsonNode po = node.get("per_output");
        if (po != null) {
            if (!po.isObject()) throw new GoldenFormatException("tolerance.per_output must be an object, is " + po);
            for (Iterator<Map.Entry<String, JsonNode>> it = po.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                per.put(e.getKey(), limits(e.getValue(), "tolerance.per_output." + e.getKey(), false));
            }
        }
        return new Tolerance(limits(node, "tolerance", true), per);
    }

    private static Limits limits(JsonNode node, String what, boolean topLevel) {
        if (!node.isObject()) throw new GoldenFormatException(what + " must be an object, is " + node);
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            // An unknown limit name ("max_rel", "abs") would otherwise be silently unchecked.
            if (!f.equals("max_abs") && !f.equals("rel_l2") && !(topLevel && f.equals("per_output"))) {
                throw new GoldenFormatException(what + ": unknown limit \"" + f + "\" (known: max_abs, rel_l2)");
            }
        }
        return new Limits(number(node.get("max_abs"), what + ".max_abs"), number(node.get("rel_l2"), what + ".rel_l2"));
    }

    private static Double number(JsonNode n, String what) {
        if (n == null || n.isNull()) return null;
        if (!n.isNumber() || n.asDouble() < 0) throw new GoldenFormatException(what + " must be a number ≥ 0, is " + n);
        return n.asDouble();
    }
}
