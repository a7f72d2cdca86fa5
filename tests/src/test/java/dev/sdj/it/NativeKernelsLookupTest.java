package dev.sdj.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import dev.sdj.bindings.SdjKernels;
import dev.sdj.bindings.kernels.sdj_kernels_h;
import org.junit.jupiter.api.Test;

/**
 * The chain CMake → libsdj_kernels.so → FFM lookup, without a GPU: load the library, resolve
 * every launcher and call the one host-only function. ./test.sh sets sdj.native.expected=true
 * when CMake built the library, so a broken native build fails here instead of being skipped.
 *
 * <p>The launchers check their arguments before they touch CUDA, so calls with bad arguments
 * (negative sizes, unknown codes, missing buffers) run here too: each must answer
 * cudaErrorInvalidValue (1), and calls with no work cudaSuccess (0), without a device.
 */
class NativeKernelsLookupTest {
    private static final int INVALID = 1;
    private static final MemorySegment NULL = MemorySegment.NULL;
    private static final int F32 = sdj_kernels_h.SDJ_DTYPE_F32(), F16 = sdj_kernels_h.SDJ_DTYPE_F16(),
            BF16 = sdj_kernels_h.SDJ_DTYPE_BF16();

    private static boolean expected() {
        return Boolean.getBoolean("sdj.native.expected");
    }

    @Test
    void loadsLibraryAndResolvesEveryLauncher() {
        assumeTrue(expected(), "libsdj_kernels.so was not built (no nvcc at build time): nothing to look up");
        SdjKernels kernels = SdjKernels.load();
        assertTrue(kernels.path().toString().endsWith(SdjKernels.LIBRARY));
        assertEquals(SdjKernels.ABI_VERSION, kernels.abiVersion());
        assertEquals(SdjKernels.ABI_VERSION, sdj_kernels_h.SDJ_KERNELS_ABI_VERSION());
    }

    @Test
    void everyFunctionOfTheHeaderResolves() {
        assumeTrue(expected(), "libsdj_kernels.so was not built (no nvcc at build time): nothing to look up");
        SdjKernels kernels = SdjKernels.load();
        List<String> symbols = SdjKernels.boundSymbols();
        List<String> header = List.of("sdj_kernels_abi_version", "sdj_silu_f32", "sdj_silu_f16",
                "sdj_cast", "sdj_nchw_to_nhwc", "sdj_nhwc_to_nchw",
                "sdj_activation", "sdj_geglu",
                "sdj_binary", "sdj_scale", "sdj_bias_add",
                "sdj_group_norm", "sdj_layer_norm", "sdj_softmax",
                "sdj_upsample_nearest", "sdj_pad2d", "sdj_concat_channels",
                "sdj_timestep_embedding", "sdj_count_nonfinite",
                "sdj_lincomb_indexed", "sdj_gather_indexed", "sdj_scatter_indexed", "sdj_increment");
        assertEquals(header.stream().sorted().toList(), symbols);
        for (String s : symbols) assertNotEquals(MemorySegment.NULL, kernels.resolve(s), s);
    }

    @Test
    void badArgumentsAreRejectedBeforeAnyLaunch() {
        assumeTrue(expected(), "libsdj_kernels.so was not built (no nvcc at build time): nothing to call");
        SdjKernels.load();
        // A non-null "device pointer" that is never dereferenced: every call below fails validation first.
        MemorySegment p = MemorySegment.ofAddress(256);

        assertEquals(INVALID, sdj_kernels_h.sdj_lincomb_indexed(p, p, p, 3, -1, p, F32, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_lincomb_indexed(NULL, p, p, 3, 8, p, F32, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_lincomb_indexed(p, p, p, 3, 8, p, 9, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_gather_indexed(p, NULL, 8, p, F16, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_scatter_indexed(p, p, -8, p, F16, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_increment(NULL, NULL));

        assertEquals(INVALID, sdj_kernels_h.sdj_silu_f32(NULL, NULL, -1, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_silu_f32(NULL, p, 4, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_silu_f16(p, p, -1, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_silu_f16(p, NULL, 4, NULL));

        assertEquals(INVALID, sdj_kernels_h.sdj_cast(p, F32, p, F16, -1, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_cast(p, 3, p, F16, 4, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_cast(p, F32, p, -1, 4, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_cast(NULL, F32, p, BF16, 4, NULL));

        assertEquals(INVALID, sdj_kernels_h.sdj_nchw_to_nhwc(p, p, -1, 4, 4, F32, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_nchw_to_nhwc(p, p, 1, 4, 4, 5, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_nchw_to_nhwc(p, NULL, 1, 4, 4, F16, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_nhwc_to_nchw(p, p, 1, -4, 4, F32, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_nhwc_to_nchw(NULL, p, 1, 4, 4, BF16, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_nhwc_to_nchw(p, p, Long.MAX_VALUE, 4, 4, F32, NULL)); // overflow

        assertEquals(INVALID, sdj_kernels_h.sdj_activation(p, p, -1, sdj_kernels_h.SDJ_ACT_SILU(), F32, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_activation(p, p, 4, 4, F32, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_activation(p, p, 4, -1, F32, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_activation(p, p, 4, sdj_kernels_h.SDJ_ACT_GELU_ERF(), 3, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_activation(NULL, p, 4, sdj_kernels_h.SDJ_ACT_QUICK_GELU(), F16, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_geglu(p, p, -1, 8, F32, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_geglu(p, p, 2, -8, F32, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_geglu(p, NULL, 2, 8, F16, NULL));

        assertEquals(INVALID, sdj_kernels_h.sdj_scale(p, p, -1, 2f, F32, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_scale(p, p, 4, 2f, 3, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_scale(NULL, p, 4, 2f, F32, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_bias_add(p, p, -1, 4, F32, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_bias_add(p, p, 4, -1, F32, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_bias_add(p, NULL, 4, 4, BF16, NULL));

        assertEquals(INVALID, sdj_kernels_h.sdj_group_norm(p, p, p, p, 1, 16, 32, 0, 1e-5f, 0, F32, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_group_norm(p, p, p, p, 1, 16, 10, 3, 1e-5f, 0, F32, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_group_norm(p, p, p, p, 1, -16, 32, 8, 1e-5f, 1, F32, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_group_norm(p, p, p, p, 1, 16, 32, 8, 1e-5f, 1, 7, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_group_norm(p, p, NULL, p, 1, 16, 32, 8, 1e-5f, 1, F16, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_layer_norm(p, p, NULL, NULL, -1, 8, 1e-5f, F32, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_layer_norm(p, p, NULL, NULL, 2, 8, 1e-5f, 3, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_layer_norm(NULL, p, NULL, NULL, 2, 8, 1e-5f, F32, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_softmax(p, p, 2, -8, 1f, 0, F32, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_softmax(p, p, 2, 8, 1f, -1, F32, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_softmax(p, NULL, 2, 8, 1f, 0, BF16, NULL));

        assertEquals(INVALID, sdj_kernels_h.sdj_upsample_nearest(p, p, 1, 4, 4, 8, -8, 8, F32, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_upsample_nearest(p, p, 1, 0, 4, 8, 8, 8, F32, NULL)); // no source pixel
        assertEquals(INVALID, sdj_kernels_h.sdj_upsample_nearest(NULL, p, 1, 4, 4, 8, 8, 8, F16, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_pad2d(p, p, 1, 4, 4, 8, -1, 0, 0, 0, F32, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_pad2d(p, NULL, 1, 4, 4, 8, 1, 1, 1, 1, F32, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_concat_channels(p, p, p, 4, -1, 4, F32, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_concat_channels(NULL, p, p, 4, 4, 4, F32, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_concat_channels(p, p, p, 4, 4, 4, -3, NULL));

        // dim/2 - shift == 0, as the CPU twin rejects it; negative dim; no timesteps.
        assertEquals(INVALID, sdj_kernels_h.sdj_timestep_embedding(p, p, 1, 2, 0, 1f, 1f, 10000f, F32, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_timestep_embedding(p, p, 1, -2, 0, 0f, 1f, 10000f, F32, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_timestep_embedding(NULL, p, 1, 320, 1, 0f, 1f, 10000f, F32, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_count_nonfinite(p, 4, F32, NULL, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_count_nonfinite(p, -1, F32, p, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_count_nonfinite(p, 4, 3, p, NULL));
        assertEquals(INVALID, sdj_kernels_h.sdj_count_nonfinite(NULL, 4, F16, p, NULL));

        try (Arena arena = Arena.ofConfined()) {
            int add = sdj_kernels_h.SDJ_BINARY_ADD();
            MemorySegment shape = arena.allocateFrom(ValueLayout.JAVA_LONG, 2, 3, 4);
            MemorySegment bias = arena.allocateFrom(ValueLayout.JAVA_LONG, 1, 1, 4);
            MemorySegment bad = arena.allocateFrom(ValueLayout.JAVA_LONG, 1, 2, 4);   // 2 against 3
            MemorySegment negative = arena.allocateFrom(ValueLayout.JAVA_LONG, 2, -3, 4);
            assertEquals(INVALID, sdj_kernels_h.sdj_binary(p, p, p, 3, shape, bad, add, F32, NULL));
            assertEquals(INVALID, sdj_kernels_h.sdj_binary(p, p, p, 3, negative, bias, add, F32, NULL));
            assertEquals(INVALID, sdj_kernels_h.sdj_binary(p, p, p, sdj_kernels_h.SDJ_MAX_DIMS() + 1, shape, bias, add, F32, NULL));
            assertEquals(INVALID, sdj_kernels_h.sdj_binary(p, p, p, -1, shape, bias, add, F32, NULL));
            assertEquals(INVALID, sdj_kernels_h.sdj_binary(p, p, p, 3, shape, bias, 2, F32, NULL));
            assertEquals(INVALID, sdj_kernels_h.sdj_binary(p, p, p, 3, shape, bias, add, 3, NULL));
            assertEquals(INVALID, sdj_kernels_h.sdj_binary(p, p, p, 3, NULL, bias, add, F32, NULL));
            assertEquals(INVALID, sdj_kernels_h.sdj_binary(p, NULL, p, 3, shape, bias, add, F16, NULL));
            // Empty work: nothing to launch, success, and no buffer needed.
            MemorySegment empty = arena.allocateFrom(ValueLayout.JAVA_LONG, 2, 0, 4);
            MemorySegment emptyB = arena.allocateFrom(ValueLayout.JAVA_LONG, 1, 1, 4);
            assertEquals(0, sdj_kernels_h.sdj_binary(NULL, NULL, NULL, 3, empty, emptyB, add, F32, NULL));
        }

        // More empty work, answered without a device.
        assertEquals(0, sdj_kernels_h.sdj_silu_f32(NULL, NULL, 0, NULL));
        assertEquals(0, sdj_kernels_h.sdj_cast(NULL, F16, NULL, F32, 0, NULL));
        assertEquals(0, sdj_kernels_h.sdj_nchw_to_nhwc(NULL, NULL, 0, 4, 4, F32, NULL));
        assertEquals(0, sdj_kernels_h.sdj_activation(NULL, NULL, 0, sdj_kernels_h.SDJ_ACT_GELU_TANH(), BF16, NULL));
        assertEquals(0, sdj_kernels_h.sdj_group_norm(NULL, NULL, NULL, NULL, 0, 16, 32, 8, 1e-5f, 0, F32, NULL));
        assertEquals(0, sdj_kernels_h.sdj_softmax(NULL, NULL, 0, 77, 1f, 77, F16, NULL));
        assertEquals(0, sdj_kernels_h.sdj_upsample_nearest(NULL, NULL, 0, 4, 4, 8, 8, 8, F32, NULL));
        assertEquals(0, sdj_kernels_h.sdj_timestep_embedding(NULL, NULL, 0, 320, 1, 0f, 1f, 10000f, F32, NULL));
    }
}
