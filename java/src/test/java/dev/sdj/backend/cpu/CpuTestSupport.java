package dev.sdj.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.sdj.core.DType;
import dev.sdj.core.Device;
import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Random;
import java.util.SplittableRandom;

/** Random tensors, float64 conversions and the tolerance checks the CPU backend tests share. */
final class CpuTestSupport {
    /** Elementwise ops: |actual − ref| ≤ ELEMENTWISE_TOL · (1 + |ref|). */
    static final double ELEMENTWISE_TOL = 1e-5;
    /** Reductions, GEMMs, convolutions, norms, attention: |actual − ref| ≤ REDUCTION_TOL · (1 + |ref|). */
    static final double REDUCTION_TOL = 1e-4;

    private CpuTestSupport() {}

    static Tensor randn(Random rnd, Layout layout, int... shape) {
        float[] v = new float[(int) Tensor.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = (float) rnd.nextGaussian();
        return Tensor.of(v, layout, shape);
    }

    static Tensor randn(Random rnd, int... shape) {
        return randn(rnd, Layout.PLAIN, shape);
    }

    /** The same values in an off-heap segment, as a mapped safetensors slice would hold them. */
    static Tensor offHeap(Tensor t) {
        MemorySegment seg = Arena.ofAuto().allocate(t.byteSize(), 4);
        ValueLayout.OfFloat le = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        float[] v = t.toFloatArray();
        for (int i = 0; i < v.length; i++) seg.setAtIndex(le, i, v[i]);
        return new Tensor(seg, DType.F32, t.layout(), Device.CPU, t.shape());
    }

    static double[] d(Tensor t) {
        float[] f = t.toFloatArray();
        double[] out = new double[f.length];
        for (int i = 0; i < f.length; i++) out[i] = f[i];
        return out;
    }

    static double[] d(float[] f) {
        double[] out = new double[f.length];
        for (int i = 0; i < f.length; i++) out[i] = f[i];
        return out;
    }

    /** Checks shape, F32 host storage and every element against the float64 reference. */
    static void assertClose(String what, double[] ref, Tensor actual, double tol, int... shape) {
        assertArrayEquals(shape, actual.shape(), what + ": shape");
        assertEquals(DType.F32, actual.dtype(), what + ": dtype");
        assertEquals(Device.CPU, actual.device(), what + ": device");
        assertClose(what, ref, actual.toFloatArray(), tol);
    }

    static void assertClose(String what, double[] ref, float[] actual, double tol) {
        assertEquals(ref.length, actual.length, what + ": element count");
        double worst = 0;
        int at = -1;
        for (int i = 0; i < ref.length; i++) {
            double err = Math.abs(actual[i] - ref[i]) / (1 + Math.abs(ref[i]));
            if (!(err <= worst)) { // also catches NaN
                worst = Double.isNaN(err) ? Double.POSITIVE_INFINITY : err;
                at = i;
            }
        }
        if (worst > tol) {
            fail(what + ": element " + at + " is " + actual[at] + ", reference " + ref[at] + " (scaled error " + worst
                    + " > " + tol + ")");
        }
    }

    /** The op throws IllegalArgumentException whose message names the op and contains each fragment. */
    static void assertRejects(String op, Runnable call, String... fragments) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call::run, op);
        String m = e.getMessage();
        assertTrue(m.startsWith(op + ":"), "message should start with the op name: " + m);
        for (String f : fragments) assertTrue(m.contains(f), "message should mention '" + f + "': " + m);
    }

    static String s(int... shape) {
        return Arrays.toString(shape);
    }

    /** Uniform in [-1, 1). */
    static float[] random(SplittableRandom rnd, int len) {
        float[] v = new float[len];
        for (int i = 0; i < len; i++) v[i] = (float) (rnd.nextDouble() * 2 - 1);
        return v;
    }

    /** A copy of v in a heap segment (arena null) or in native memory of the arena, 64-byte aligned. */
    static MemorySegment segment(float[] v, Arena arena) {
        if (arena == null) return MemorySegment.ofArray(v.clone());
        MemorySegment s = arena.allocate((long) v.length * Float.BYTES, 64);
        MemorySegment.copy(v, 0, s, ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0, v.length);
        return s;
    }
}
