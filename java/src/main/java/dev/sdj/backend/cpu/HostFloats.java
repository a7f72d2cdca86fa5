package dev.sdj.backend.cpu;

import dev.sdj.core.DType;
import dev.sdj.core.Device;
import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * The CPU backend's view of tensors as float arrays, and the argument checks every op shares.
 *
 * <p>Outputs are always {@link Tensor#zeros} F32 tensors, i.e. a {@code float[]} the kernels write
 * directly. Inputs may be such arrays (read in place) or any other segment, e.g. a slice of a
 * mapped safetensors file, which is copied out once per op (cheap next to the op itself; the
 * GEMM and convolution read their segments directly instead).
 */
final class HostFloats {
    static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private HostFloats() {}

    /**
     * The elements of an F32 host tensor. A heap {@code float[]} that the segment covers exactly is
     * returned as is (callers only read it); anything else is copied. Heap floats are in native
     * order, which is the little-endian storage order on every platform the JDK's Vector API
     * targets here (x86-64, AArch64).
     */
    static float[] read(Tensor t) {
        MemorySegment seg = t.data();
        if (seg.heapBase().orElse(null) instanceof float[] arr && seg.address() == 0 && arr.length == t.numel()
                && ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN) {
            return arr;
        }
        float[] out = new float[Math.toIntExact(t.numel())];
        MemorySegment.copy(seg, F32_LE, 0, out, 0, out.length);
        return out;
    }

    /** A new zero F32 host tensor. */
    static Tensor alloc(Layout layout, int... shape) {
        return Tensor.zeros(DType.F32, layout, shape);
    }

    private static final java.lang.ref.Cleaner CLEANER = java.lang.ref.Cleaner.create();

    /**
     * Zeroed native memory (64-byte aligned), freed once the returned segment object is
     * unreachable: a shared arena of its own, closed by a cleaner. Not {@code Arena.ofAuto()},
     * whose allocations count against -XX:MaxDirectMemorySize (by default the maximum heap, 6 GB
     * here), which SD1.5's packed weights alone would nearly fill. Tensors viewing the memory must
     * share this segment object (reshape does), not a slice of it.
     */
    static MemorySegment allocateNative(long bytes) {
        java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofShared();
        MemorySegment seg = arena.allocate(Math.max(bytes, 1), 64);
        CLEANER.register(seg, arena::close);
        return seg;
    }

    /** Parameters from this many floats (256 KiB) on are kept off-heap by {@link #allocParameter}. */
    static final long OFF_HEAP_MIN = 1 << 16;

    /**
     * A new zero F32 tensor for a parameter: off-heap ({@link #allocateNative}, freed once the
     * tensor and its views are unreachable) from {@link #OFF_HEAP_MIN} floats on; else as {@link #alloc}.
     */
    static Tensor allocParameter(Layout layout, int... shape) {
        long n = Tensor.numel(shape);
        if (n < OFF_HEAP_MIN) return alloc(layout, shape);
        return new Tensor(allocateNative(n * Float.BYTES), DType.F32, layout, Device.CPU, shape);
    }

    /** The float[] behind a tensor made by {@link #alloc}. */
    static float[] array(Tensor out) {
        return (float[]) out.data().heapBase().orElseThrow();
    }

    // ---- argument checks: every message starts with the op's name ----

    static IllegalArgumentException error(String op, String message) {
        return new IllegalArgumentException(op + ": " + message);
    }

    static String dims(Tensor t) {
        return Arrays.toString(t.shape());
    }

    /** {@code t} must be a non-null F32 host tensor: the CPU backend computes in fp32 only. */
    static void requireF32(String op, String name, Tensor t) {
        requireHost(op, name, t);
        if (t.dtype() != DType.F32) {
            throw error(op, name + " " + t + " has dtype " + t.dtype()
                    + "; the CPU backend computes in F32, convert it with upload() first");
        }
    }

    static void requireHost(String op, String name, Tensor t) {
        if (t == null) throw error(op, name + " is null");
        if (t.device() != Device.CPU) throw error(op, name + " " + t + " is not in host memory; download() it first");
    }

    static void requireRank(String op, String name, Tensor t, int rank) {
        if (t.rank() != rank) throw error(op, name + " " + dims(t) + " must have rank " + rank);
    }

    /** Image ops take NHWC; a tensor labelled NCHW is the diffusers layout that was not converted. */
    static void requireNotNchw(String op, String name, Tensor t) {
        if (t.layout() == Layout.NCHW) {
            throw error(op, name + " NCHW " + dims(t) + " must be NHWC; convert it with nchwToNhwc()");
        }
    }

    /** A per-channel vector (gamma, beta, bias) of length {@code c}. */
    static void requireVector(String op, String name, Tensor v, int c, Tensor of) {
        requireF32(op, name, v);
        if (v.rank() != 1 || v.dim(0) != c) {
            throw error(op, name + " " + dims(v) + " must be [" + c + "] for " + dims(of));
        }
    }

    static int lastDim(String op, Tensor x) {
        if (x.rank() < 1) throw error(op, "x " + dims(x) + " must have rank >= 1");
        return x.dim(-1);
    }

    /**
     * The lanes of v added left to right. FloatVector.reduceLanes(ADD) leaves the order open, and
     * the JIT's intrinsic and the interpreter's fallback use different ones: the same input would
     * give results that differ in the last bit depending on how warm the JVM is.
     */
    static float sumLanes(jdk.incubator.vector.FloatVector v) {
        float[] lanes = v.toArray();
        float s = 0f;
        for (float x : lanes) s += x;
        return s;
    }
}
