package dev.sdj.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.MemorySegment;
import java.util.List;
import dev.sdj.bindings.SdjKernels;
import org.junit.jupiter.api.Test;

/**
 * The chain CMake → libsdj_kernels.so → FFM lookup, without a GPU: load the library, resolve
 * every launcher and call the one host-only function. ./test.sh sets sdj.native.expected=true
 * when CMake built the library, so a broken native build fails here instead of being skipped.
 */
class NativeKernelsLookupTest {

    private static boolean expected() {
        return Boolean.getBoolean("sdj.native.expected");
    }

    @Test
    void loadsLibraryAndResolvesEveryLauncher() {
        assumeTrue(expected(), "libsdj_kernels.so was not built (no nvcc at build time): nothing to look up");
        SdjKernels kernels = SdjKernels.load();
        assertTrue(kernels.path().toString().endsWith(SdjKernels.LIBRARY));
        assertEquals(SdjKernels.ABI_VERSION, kernels.abiVersion());
    }

    @Test
    void everyFunctionOfTheHeaderResolves() {
        assumeTrue(expected(), "libsdj_kernels.so was not built (no nvcc at build time): nothing to look up");
        SdjKernels kernels = SdjKernels.load();
        List<String> symbols = SdjKernels.boundSymbols();
        assertTrue(symbols.containsAll(List.of("sdj_kernels_abi_version", "sdj_silu_f32", "sdj_silu_f16")), symbols.toString());
        for (String s : symbols) assertNotEquals(MemorySegment.NULL, kernels.resolve(s), s);
    }
}
