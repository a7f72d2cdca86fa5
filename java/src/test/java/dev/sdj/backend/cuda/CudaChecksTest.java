package dev.sdj.backend.cuda;

import dev.sdj.backend.Backends;
import dev.sdj.core.DType;
import dev.sdj.core.Device;
import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The CUDA backend's launch-parameter checks, on the CPU: the shapes every kernel and GEMM size is derived from
 * are validated here, so a wrong shape is an exception naming the op, never an out-of-bounds launch.
 */
class CudaChecksTest {

    /** A tensor that claims device memory: only its shape is read here; its storage is a bare address. */
    private static Tensor dev(Layout layout, int... shape) {
        return new Tensor(MemorySegment.ofAddress(0x10000), DType.F16, layout, Device.CUDA, shape);
    }

    @Test
    void deviceTensorsCannotBeReadOnTheHost() {
        Tensor t = dev(Layout.PLAIN, 4);
        assertEquals(8, t.byteSize());
        assertThrows(RuntimeException.class, () -> t.getFloat(0));
        assertThrows(IllegalArgumentException.class,
                () -> new Tensor(MemorySegment.ofArray(new short[4]), DType.F16, Layout.PLAIN, Device.CUDA, 4));
    }

    @Test
    void requireDeviceNamesHostTensorsAndWrongDtypes() {
        IllegalArgumentException host = assertThrows(IllegalArgumentException.class,
                () -> CudaChecks.requireDevice("linear", "x", Tensor.of(new float[2], 2), DType.F16));
        assertTrue(host.getMessage().startsWith("linear: x [2] is a host tensor"), host.getMessage());
        IllegalArgumentException dtype = assertThrows(IllegalArgumentException.class,
                () -> CudaChecks.requireDevice("linear", "x", dev(Layout.PLAIN, 2), DType.BF16));
        assertTrue(dtype.getMessage().contains("has dtype F16; this CUDA backend computes in BF16"), dtype.getMessage());
    }

    @Test
    void conv2dShapes() {
        assertArrayEquals(new int[] {2, 7, 9, 10}, CudaChecks.conv2dShape(dev(Layout.NHWC, 2, 7, 9, 12), dev(Layout.OHWI, 10, 3, 3, 12), 1, 1, 1, 1));
        assertArrayEquals(new int[] {2, 4, 5, 10}, CudaChecks.conv2dShape(dev(Layout.NHWC, 2, 7, 9, 12), dev(Layout.OHWI, 10, 3, 3, 12), 2, 2, 1, 1));
        assertThrows(IllegalArgumentException.class, () -> CudaChecks.conv2dShape(dev(Layout.NHWC, 2, 7, 9, 12), dev(Layout.OIHW, 10, 12, 3, 3), 1, 1, 1, 1));
        assertThrows(IllegalArgumentException.class, () -> CudaChecks.conv2dShape(dev(Layout.NCHW, 2, 12, 7, 9), dev(Layout.OHWI, 10, 3, 3, 12), 1, 1, 1, 1));
        IllegalArgumentException channels = assertThrows(IllegalArgumentException.class,
                () -> CudaChecks.conv2dShape(dev(Layout.NHWC, 2, 7, 9, 11), dev(Layout.OHWI, 10, 3, 3, 12), 1, 1, 1, 1));
        assertTrue(channels.getMessage().contains("has 11 channels"), channels.getMessage());
        assertThrows(IllegalArgumentException.class, () -> CudaChecks.conv2dShape(dev(Layout.NHWC, 1, 2, 2, 4), dev(Layout.OHWI, 4, 3, 3, 4), 1, 1, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> CudaChecks.conv2dShape(dev(Layout.NHWC, 1, 8, 8, 4), dev(Layout.OHWI, 4, 3, 3, 4), 0, 1, 1, 1));
    }

    @Test
    void matmulShapes() {
        assertArrayEquals(new int[] {3, 13, 7}, CudaChecks.matmulShape(dev(Layout.PLAIN, 3, 13, 19), dev(Layout.PLAIN, 3, 19, 7), false, false));
        assertArrayEquals(new int[] {3, 13, 7}, CudaChecks.matmulShape(dev(Layout.PLAIN, 3, 19, 13), dev(Layout.PLAIN, 3, 7, 19), true, true));
        assertThrows(IllegalArgumentException.class, () -> CudaChecks.matmulShape(dev(Layout.PLAIN, 3, 13, 19), dev(Layout.PLAIN, 3, 18, 7), false, false));
        assertThrows(IllegalArgumentException.class, () -> CudaChecks.matmulShape(dev(Layout.PLAIN, 3, 13, 19), dev(Layout.PLAIN, 2, 19, 7), false, false));
    }

    @Test
    void broadcastShapes() {
        assertArrayEquals(new long[] {2, 1, 1, 6}, CudaChecks.broadcastShape("add", dev(Layout.NHWC, 2, 5, 7, 6), dev(Layout.NHWC, 2, 1, 1, 6)));
        assertArrayEquals(new long[] {1, 1, 1, 6}, CudaChecks.broadcastShape("add", dev(Layout.NHWC, 2, 5, 7, 6), dev(Layout.PLAIN, 6)));
        assertThrows(IllegalArgumentException.class, () -> CudaChecks.broadcastShape("add", dev(Layout.NHWC, 2, 5, 7, 6), dev(Layout.PLAIN, 5)));
        assertThrows(IllegalArgumentException.class, () -> CudaChecks.broadcastShape("add", dev(Layout.PLAIN, 6), dev(Layout.PLAIN, 2, 6)));
        assertThrows(IllegalArgumentException.class, () -> CudaChecks.broadcastShape("add", dev(Layout.PLAIN, 1, 1, 1, 1, 1, 1, 2), dev(Layout.PLAIN, 2)));
    }

    @Test
    void attentionShapes() {
        assertArrayEquals(new int[] {2, 9, 13, 8, 5},
                CudaChecks.attentionShape(dev(Layout.PLAIN, 2, 9, 24), dev(Layout.PLAIN, 2, 13, 24), dev(Layout.PLAIN, 2, 13, 15), 3));
        assertThrows(IllegalArgumentException.class,
                () -> CudaChecks.attentionShape(dev(Layout.PLAIN, 2, 9, 24), dev(Layout.PLAIN, 2, 13, 24), dev(Layout.PLAIN, 2, 12, 15), 3));
        assertThrows(IllegalArgumentException.class,
                () -> CudaChecks.attentionShape(dev(Layout.PLAIN, 2, 9, 24), dev(Layout.PLAIN, 2, 13, 24), dev(Layout.PLAIN, 2, 13, 15), 5));
    }

    @Test
    void backendsByName() {
        assertEquals("cpu", Backends.create("cpu", null).name());
        assertEquals(DType.F16, Backends.parseDtype("fp16"));
        assertEquals(DType.BF16, Backends.parseDtype("bf16"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Backends.create("cpu", "fp16"));
        assertTrue(e.getMessage().contains("fp32 only"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Backends.create("tpu", null));
    }
}
