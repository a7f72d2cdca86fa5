package dev.sdj.golden;

import com.fasterxml.jackson.databind.JsonNode;
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

    /** max_abs and rel_l2 limits; null where not given. Every limit given must hold. */
    public record Limits(Double maxAbs, Double relL2) {
        /** No limit given would pass anything; such an output must match exactly instead. */
        public static final Limits EXACT = new Limits(0.0, null);

        boolean isEmpty() {
            return maxAbs == null && relL2 == null;
        }
    }

    public Tolerance {
        perOutput = Map.copyOf(perOutput);
    }

    /** The limits that apply to {@code output}. */
    public Limits forOutput(String output) {
        Limits l = perOutput.getOrDefault(output, top);
        return l.isEmpty() ? Limits.EXACT : l;
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
