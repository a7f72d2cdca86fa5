package dev.sdj.golden;

import dev.sdj.core.Tensor;
import dev.sdj.golden.Tolerance.Limits;
import java.util.Arrays;
import java.util.Locale;

/**
 * One output against its reference: max_abs = max|got − expected| and rel_l2 = ‖got − expected‖₂ /
 * ‖expected‖₂, both accumulated in double. A shape mismatch or a NaN/Inf in the output fails
 * whatever the limits.
 */
public final class Compare {
    private Compare() {}

    /** The verdict on one output and the line that says why, e.g. {@code output max_abs 1.2e-06 (limit 1e-04) rel_l2 3.4e-07}. */
    public record Result(String output, boolean passed, double maxAbs, double relL2, String text) {}

    /** {@code got} and {@code expected} are host tensors of any dtype (read as double). */
    public static Result compare(String output, Tensor got, Tensor expected, Limits limits) {
        if (!Arrays.equals(got.shape(), expected.shape())) {
            return new Result(output, false, Double.NaN, Double.NaN, output + " shape " + Arrays.toString(got.shape())
                    + ", expected " + Arrays.toString(expected.shape()));
        }
        long n = got.numel(), bad = 0, firstBad = -1;
        double maxAbs = 0, diff2 = 0, ref2 = 0, refMax = 0;
        for (long i = 0; i < n; i++) {
            double g = got.getDouble(i), e = expected.getDouble(i);
            if (!Double.isFinite(g)) {
                if (bad++ == 0) firstBad = i;
                continue;
            }
            double d = Math.abs(g - e);
            // Math.max keeps a NaN (a NaN in the reference must not read as a match).
            maxAbs = Math.max(maxAbs, d);
            diff2 += d * d;
            ref2 += e * e;
            refMax = Math.max(refMax, Math.abs(e));
        }
        if (bad > 0) {
            return new Result(output, false, Double.NaN, Double.NaN, output + " has " + bad + " NaN/Inf of " + n
                    + " values (first at flat index " + firstBad + ": " + got.getDouble(firstBad) + ")");
        }
        // An all-zero reference: any difference is infinitely wrong relative to it, none is exact.
        double relL2 = ref2 > 0 ? Math.sqrt(diff2 / ref2) : diff2 == 0 ? 0 : Double.POSITIVE_INFINITY;
        Double maxAbsLimit = limits.maxAbs();
        String maxAbsNote = limit(maxAbsLimit);
        if (limits.maxAbsOfRef() != null) {
            // Reduced precision: the limit scales with the output's magnitude (Tolerance.widen).
            double scaled = limits.maxAbsOfRef() * refMax;
            maxAbsLimit = maxAbsLimit == null ? scaled : Math.max(maxAbsLimit, scaled);
            String rule = sci(limits.maxAbsOfRef()) + "·max|ref|";
            maxAbsNote = " (limit " + sci(maxAbsLimit) + " = " + (limits.maxAbs() == null ? rule : "max(" + sci(limits.maxAbs()) + ", " + rule + ")")
                    + ")";
        }
        boolean passed = within(maxAbs, maxAbsLimit) && within(relL2, limits.relL2());
        String text = output + " max_abs " + sci(maxAbs) + maxAbsNote + " rel_l2 " + sci(relL2) + limit(limits.relL2());
        return new Result(output, passed, maxAbs, relL2, text);
    }

    private static boolean within(double value, Double limit) {
        return limit == null || value <= limit; // false for a NaN value
    }

    private static String limit(Double limit) {
        return limit == null ? "" : " (limit " + sci(limit) + ")";
    }

    /**
     * Three significant digits, trailing zeros dropped (1.23e-06, 1e-04, 2.39e-04, 0): enough that a
     * value just over its limit does not print as equal to it.
     */
    static String sci(double v) {
        if (v == 0) return "0";
        if (!Double.isFinite(v)) return Double.toString(v);
        return String.format(Locale.ROOT, "%.2e", v).replaceFirst("\\.?0*e", "e");
    }
}
