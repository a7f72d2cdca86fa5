package dev.sdj.golden;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sdj.core.DType;
import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;
import dev.sdj.golden.Tolerance.Limits;
import org.junit.jupiter.api.Test;

class CompareTest {

    private static Compare.Result compare(float[] got, float[] expected, Double maxAbs, Double relL2) {
        return Compare.compare("out", Tensor.of(got, got.length), Tensor.of(expected, expected.length), new Limits(maxAbs, relL2));
    }

    @Test
    void maxAbsAndRelL2AreTheDefinedNorms() {
        Compare.Result r = compare(new float[] {1, 2, 3}, new float[] {1, 2, 4}, 2.0, null);
        assertEquals(1.0, r.maxAbs());
        assertEquals(1 / Math.sqrt(21), r.relL2(), 1e-15);
        assertTrue(r.passed());
        assertEquals("out max_abs 1e+00 (limit 2e+00) rel_l2 2.18e-01", r.text());
    }

    @Test
    void identicalOutputsAreExact() {
        Compare.Result r = compare(new float[] {0.5f, -3}, new float[] {0.5f, -3}, 0.0, null);
        assertTrue(r.passed());
        assertEquals("out max_abs 0 (limit 0) rel_l2 0", r.text());
    }

    @Test
    void everyLimitGivenMustHold() {
        // max_abs 1 is within 2; rel_l2 0.218 is not within 0.1.
        Compare.Result r = compare(new float[] {1, 2, 3}, new float[] {1, 2, 4}, 2.0, 0.1);
        assertFalse(r.passed());
        assertEquals("out max_abs 1e+00 (limit 2e+00) rel_l2 2.18e-01 (limit 1e-01)", r.text());
        assertFalse(compare(new float[] {1, 2, 3}, new float[] {1, 2, 4}, 0.5, 1.0).passed());
        assertTrue(compare(new float[] {1, 2, 3}, new float[] {1, 2, 4}, null, 1.0).passed());
    }

    @Test
    void aShapeMismatchFailsWithBothShapes() {
        Compare.Result r = Compare.compare("output", Tensor.of(new float[6], 2, 3), Tensor.of(new float[6], 3, 2), new Limits(1e9, null));
        assertFalse(r.passed());
        assertEquals("output shape [2, 3], expected [3, 2]", r.text());
    }

    @Test
    void nanOrInfInTheOutputFailsWhateverTheLimit() {
        Compare.Result nan = compare(new float[] {1, Float.NaN, Float.POSITIVE_INFINITY}, new float[] {1, 2, 3}, 1e30, 1e30);
        assertFalse(nan.passed());
        assertEquals("out has 2 NaN/Inf of 3 values (first at flat index 1: NaN)", nan.text());
    }

    @Test
    void aNanInTheReferenceIsNoMatch() {
        assertFalse(compare(new float[] {1, 2}, new float[] {1, Float.NaN}, 1e30, null).passed());
    }

    @Test
    void anAllZeroReferenceIsMatchedOnlyExactly() {
        assertEquals(0.0, compare(new float[] {0, 0}, new float[] {0, 0}, null, 1e-6).relL2());
        Compare.Result r = compare(new float[] {0, 1e-9f}, new float[] {0, 0}, null, 1e-6);
        assertEquals(Double.POSITIVE_INFINITY, r.relL2());
        assertFalse(r.passed());
    }

    @Test
    void dtypesMayDiffer() {
        // Timesteps: the engine's F32 against diffusers' I64.
        Tensor ref = Tensor.zeros(DType.I64, Layout.PLAIN, 2);
        ref.setFloat(0, 999);
        ref.setFloat(1, 1);
        assertTrue(Compare.compare("timesteps", Tensor.of(new float[] {999, 1}, 2), ref, new Limits(0.0, null)).passed());
        assertFalse(Compare.compare("timesteps", Tensor.of(new float[] {999, 2}, 2), ref, new Limits(0.0, null)).passed());
    }

    @Test
    void numbersPrintWithThreeSignificantDigits() {
        assertEquals("1.2e-06", Compare.sci(1.2e-6));
        assertEquals("1e-04", Compare.sci(1e-4));
        assertEquals("2.39e-04", Compare.sci(0.00023893291473388675));
        assertEquals("3.64e+00", Compare.sci(3.6412));
        assertEquals("0", Compare.sci(0));
        assertEquals("Infinity", Compare.sci(Double.POSITIVE_INFINITY));
    }
}
