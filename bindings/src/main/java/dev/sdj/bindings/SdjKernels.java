package dev.sdj.bindings;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * sdj's own CUDA kernels ({@code native/include/sdj_kernels.h}) in {@code libsdj_kernels.so}.
 *
 * <p>Where the library is looked for, first hit wins: the system property {@code sdj.kernels}
 * or environment variable {@code SDJ_KERNELS} (a file), the system property {@code
 * sdj.native.dir} (a folder; set by the build and the launcher to CMake's output), each folder
 * of {@code LD_LIBRARY_PATH}, then {@code build/native} under the working directory.
 *
 * <p>The launchers take device pointers and a stream; calling them needs a CUDA device. Loading
 * the library and looking symbols up does not, which is what CI checks.
 */
public final class SdjKernels {
    public static final String LIBRARY = "libsdj_kernels.so";
    /** Must equal SDJ_KERNELS_ABI_VERSION in sdj_kernels.h. */
    public static final int ABI_VERSION = 1;

    private static final FunctionDescriptor UNARY = FunctionDescriptor.of(ValueLayout.JAVA_INT,
            ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS);

    private final Path path;
    private final MethodHandle abiVersion;
    private final MethodHandle siluF32;
    private final MethodHandle siluF16;

    private SdjKernels(Path path, SymbolLookup lookup) {
        this.path = path;
        Linker linker = Linker.nativeLinker();
        this.abiVersion = linker.downcallHandle(find(lookup, "sdj_kernels_abi_version"), FunctionDescriptor.of(ValueLayout.JAVA_INT));
        this.siluF32 = linker.downcallHandle(find(lookup, "sdj_silu_f32"), UNARY);
        this.siluF16 = linker.downcallHandle(find(lookup, "sdj_silu_f16"), UNARY);
        int abi = abiVersion();
        if (abi != ABI_VERSION) {
            throw new IllegalStateException(path + " has kernel ABI " + abi + " but this sdj expects " + ABI_VERSION
                    + "; rebuild the native part (cmake --build build/native)");
        }
    }

    private MemorySegment find(SymbolLookup lookup, String symbol) {
        return lookup.find(symbol).orElseThrow(() -> new IllegalStateException(
                path + " has no symbol " + symbol + "; it is older than native/include/sdj_kernels.h: rebuild it"));
    }

    /** Loads the library once per call into the global arena (it stays loaded for the JVM's life, as the driver expects). */
    public static SdjKernels load() {
        Path lib = locate();
        return new SdjKernels(lib, SymbolLookup.libraryLookup(lib, Arena.global()));
    }

    /** The first existing candidate, or a {@link NativeLibraryNotFoundException} listing all of them. */
    public static Path locate() {
        List<Path> candidates = candidates();
        for (Path p : candidates) {
            if (Files.isRegularFile(p)) return p.toAbsolutePath();
        }
        throw new NativeLibraryNotFoundException(LIBRARY, candidates,
                "Build it with CMake and nvcc (./test.sh or ./sdj do), or point sdj at it with "
                        + "-Dsdj.kernels=/path/to/" + LIBRARY + " or SDJ_KERNELS=/path/to/" + LIBRARY + ".");
    }

    /** Every place looked at, in order. */
    public static List<Path> candidates() {
        Set<Path> out = new LinkedHashSet<>();
        String explicit = System.getProperty("sdj.kernels", System.getenv("SDJ_KERNELS"));
        if (explicit != null && !explicit.isBlank()) out.add(Path.of(explicit));
        String dir = System.getProperty("sdj.native.dir");
        if (dir != null && !dir.isBlank()) out.add(Path.of(dir, LIBRARY));
        String ld = System.getenv("LD_LIBRARY_PATH");
        if (ld != null) {
            for (String d : ld.split(":")) {
                if (!d.isBlank()) out.add(Path.of(d, LIBRARY));
            }
        }
        out.add(Path.of("build", "native", LIBRARY));
        return new ArrayList<>(out);
    }

    public Path path() {
        return path;
    }

    public int abiVersion() {
        try {
            return (int) abiVersion.invokeExact();
        } catch (Throwable t) {
            throw new IllegalStateException("sdj_kernels_abi_version failed", t);
        }
    }

    /** y = silu(x) on n fp32 device elements; returns the cudaError_t of the launch (0 = success). */
    public int siluF32(MemorySegment x, MemorySegment y, long n, MemorySegment stream) {
        try {
            return (int) siluF32.invokeExact(x, y, n, stream);
        } catch (Throwable t) {
            throw new IllegalStateException("sdj_silu_f32 failed", t);
        }
    }

    /** y = silu(x) on n fp16 device elements; returns the cudaError_t of the launch. */
    public int siluF16(MemorySegment x, MemorySegment y, long n, MemorySegment stream) {
        try {
            return (int) siluF16.invokeExact(x, y, n, stream);
        } catch (Throwable t) {
            throw new IllegalStateException("sdj_silu_f16 failed", t);
        }
    }
}
