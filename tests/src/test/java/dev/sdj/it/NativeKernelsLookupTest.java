package dev.sdj.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.sdj.bindings.NativeLibraryNotFoundException;
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
    void missingLibraryNamesEveryPlaceLooked() {
        String saved = System.getProperty("sdj.kernels");
        String savedDir = System.getProperty("sdj.native.dir");
        try {
            System.setProperty("sdj.kernels", "/nonexistent/libsdj_kernels.so");
            System.setProperty("sdj.native.dir", "/nonexistent-dir");
            // Only meaningful when nothing else on the search path has it.
            assumeTrue(SdjKernels.candidates().stream().noneMatch(java.nio.file.Files::isRegularFile),
                    "a libsdj_kernels.so is on LD_LIBRARY_PATH or in ./build/native");
            NativeLibraryNotFoundException e = assertThrows(NativeLibraryNotFoundException.class, SdjKernels::load);
            assertTrue(e.getMessage().contains("/nonexistent/libsdj_kernels.so"), e.getMessage());
            assertTrue(e.getMessage().contains("/nonexistent-dir/libsdj_kernels.so"), e.getMessage());
            assertTrue(e.getMessage().contains("SDJ_KERNELS"), e.getMessage());
        } finally {
            restore("sdj.kernels", saved);
            restore("sdj.native.dir", savedDir);
        }
    }

    private static void restore(String key, String value) {
        if (value == null) System.clearProperty(key);
        else System.setProperty(key, value);
    }
}
