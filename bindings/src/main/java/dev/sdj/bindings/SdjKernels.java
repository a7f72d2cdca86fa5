package dev.sdj.bindings;

import dev.sdj.bindings.kernels.sdj_kernels_h;

import java.lang.foreign.MemorySegment;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * sdj's own CUDA kernels ({@code native/include/sdj_kernels.h}) in {@code libsdj_kernels.so}, through the
 * generated {@link sdj_kernels_h}. {@link #load()} finds the library ({@link CudaLibraries}: {@code -Dsdj.kernels},
 * {@code SDJ_KERNELS}, {@code -Dsdj.native.dir}, {@code LD_LIBRARY_PATH}, {@code build/native}), checks its ABI
 * version and that every function the header declares resolves, so a stale build fails here, by name.
 *
 * <p>The launchers take device pointers and a stream; calling them needs a CUDA device. Loading the library and
 * looking symbols up does not, which is what CI checks.
 */
public final class SdjKernels {
    public static final String LIBRARY = CudaLibraries.Library.SDJ_KERNELS.fileName();
    /** Must equal SDJ_KERNELS_ABI_VERSION in sdj_kernels.h (the generated constant is checked against it too). */
    public static final int ABI_VERSION = 3;

    private final Path path;

    private SdjKernels(Path path) {
        this.path = path;
    }

    /** Loads the library once per JVM, checks the ABI version and resolves every bound symbol. */
    public static SdjKernels load() {
        Path lib = CudaLibraries.load(CudaLibraries.Library.SDJ_KERNELS);
        SdjKernels k = new SdjKernels(lib);
        for (String symbol : boundSymbols()) k.resolve(symbol);
        int abi = k.abiVersion();
        if (abi != ABI_VERSION || sdj_kernels_h.SDJ_KERNELS_ABI_VERSION() != ABI_VERSION) {
            throw new IllegalStateException(lib + " has kernel ABI " + abi + ", the generated bindings "
                    + sdj_kernels_h.SDJ_KERNELS_ABI_VERSION() + ", this sdj expects " + ABI_VERSION
                    + "; rebuild the native part (cmake --build build/native) or regenerate the bindings");
        }
        return k;
    }

    /** The first existing candidate, or a {@link NativeLibraryNotFoundException} listing all of them. */
    public static Path locate() {
        return CudaLibraries.locate(CudaLibraries.Library.SDJ_KERNELS, CudaLibraries.Search.system());
    }

    /** Every place looked at, in order. */
    public static List<Path> candidates() {
        return CudaLibraries.Search.system().candidates(CudaLibraries.Library.SDJ_KERNELS);
    }

    /** The C functions the generated bindings bind, in declaration order of the generated class. */
    public static List<String> boundSymbols() {
        List<String> out = new ArrayList<>();
        for (Method m : sdj_kernels_h.class.getDeclaredMethods()) {
            String n = m.getName();
            if (n.endsWith("$address") && Modifier.isPublic(m.getModifiers()) && m.getParameterCount() == 0) {
                out.add(n.substring(0, n.length() - "$address".length()));
            }
        }
        out.sort(null);
        return out;
    }

    /** The address of {@code symbol} in the loaded library; a clear error when the library lacks it. */
    public MemorySegment resolve(String symbol) {
        try {
            return (MemorySegment) sdj_kernels_h.class.getMethod(symbol + "$address").invoke(null);
        } catch (InvocationTargetException | ExceptionInInitializerError e) {
            throw new IllegalStateException(path + " has no symbol " + symbol
                    + "; it is older than native/include/sdj_kernels.h: rebuild it", e);
        } catch (ReflectiveOperationException e) {
            throw new IllegalArgumentException("no bound function " + symbol + " in sdj_kernels_h", e);
        }
    }

    public Path path() {
        return path;
    }

    public int abiVersion() {
        return sdj_kernels_h.sdj_kernels_abi_version();
    }

    /** y = silu(x) on n fp32 device elements; returns the cudaError_t of the launch (0 = success). */
    public int siluF32(MemorySegment x, MemorySegment y, long n, MemorySegment stream) {
        return sdj_kernels_h.sdj_silu_f32(x, y, n, stream);
    }

    /** y = silu(x) on n fp16 device elements; returns the cudaError_t of the launch. */
    public int siluF16(MemorySegment x, MemorySegment y, long n, MemorySegment stream) {
        return sdj_kernels_h.sdj_silu_f16(x, y, n, stream);
    }
}
