package dev.sdj.cuda;

import dev.sdj.bindings.CudaLibraries;
import dev.sdj.bindings.cudart.cudart_h;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** The CUDA runtime: versions, device count and status checking. Loads {@code libcudart} on first use. */
public final class Cuda {
    private Cuda() {}

    /** Loads libcudart (once); every class here calls this before touching a generated binding. */
    public static void load() {
        CudaLibraries.load(CudaLibraries.Library.CUDART);
    }

    /** The CUDA runtime version as 1000·major + 10·minor (13000 for 13.0). Needs no device. */
    public static int runtimeVersion() {
        return readInt("cudaRuntimeGetVersion", out -> cudart_h.cudaRuntimeGetVersion(out));
    }

    /** The driver's CUDA version in the same encoding, or 0 when no driver is installed. Needs no device. */
    public static int driverVersion() {
        return readInt("cudaDriverGetVersion", out -> cudart_h.cudaDriverGetVersion(out));
    }

    /** The number of CUDA devices; 0 when there is none or no driver (the reason is in {@link #noDeviceReason()}). */
    public static int deviceCount() {
        load();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment n = arena.allocate(ValueLayout.JAVA_INT);
            int status = cudart_h.cudaGetDeviceCount(n);
            if (isNoDevice(status)) {
                cudart_h.cudaGetLastError();
                return 0;
            }
            check(status, "cudaGetDeviceCount");
            return n.get(ValueLayout.JAVA_INT, 0);
        }
    }

    /** Why {@link #deviceCount()} is 0, as the exception {@link CudaDevice#get} would throw; null when there are devices. */
    public static NoCudaDeviceException noDeviceReason() {
        load();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment n = arena.allocate(ValueLayout.JAVA_INT);
            int status = cudart_h.cudaGetDeviceCount(n);
            if (status == 0 && n.get(ValueLayout.JAVA_INT, 0) > 0) return null;
            cudart_h.cudaGetLastError();
            return new NoCudaDeviceException("cudaGetDeviceCount", status, errorName(status),
                    status == 0 ? "the driver reports 0 devices" : errorString(status) + driverHint());
        }
    }

    static boolean isNoDevice(int status) {
        return status == cudart_h.cudaErrorNoDevice() || status == cudart_h.cudaErrorInsufficientDriver()
                || status == cudart_h.cudaErrorInitializationError();
    }

    /** Throws a {@link CudaException} naming the call when {@code status} is not cudaSuccess. */
    public static void check(int status, String call) {
        if (status == 0) return;
        cudart_h.cudaGetLastError(); // clear a non-sticky error so the next call does not report it again
        if (isNoDevice(status)) {
            throw new NoCudaDeviceException(call, status, errorName(status), errorString(status) + driverHint());
        }
        throw new CudaException(call, status, errorName(status), errorString(status));
    }

    private static String driverHint() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment v = arena.allocate(ValueLayout.JAVA_INT);
            if (cudart_h.cudaDriverGetVersion(v) == 0 && v.get(ValueLayout.JAVA_INT, 0) == 0) {
                return "; no NVIDIA driver (libcuda.so.1) is installed on this machine";
            }
            return "";
        }
    }

    /** cudaGetErrorName, e.g. "cudaErrorMemoryAllocation". */
    public static String errorName(int status) {
        load();
        return cString(cudart_h.cudaGetErrorName(status));
    }

    /** cudaGetErrorString, the runtime's sentence for the status. */
    public static String errorString(int status) {
        load();
        return cString(cudart_h.cudaGetErrorString(status));
    }

    static String cString(MemorySegment p) {
        if (p == null || p.equals(MemorySegment.NULL)) return "";
        return p.reinterpret(4096).getString(0);
    }

    static String mib(long bytes) {
        return String.format(java.util.Locale.ROOT, "%.1f MiB", bytes / (1024.0 * 1024.0));
    }

    /** A library call that writes its result through {@code out} and returns its status. */
    interface OutCall {
        int call(MemorySegment out);
    }

    static int readInt(String name, OutCall c) {
        load();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.JAVA_INT);
            check(c.call(out), name);
            return out.get(ValueLayout.JAVA_INT, 0);
        }
    }

    /** Calls a create function that writes a handle through {@code out} and returns the handle. */
    static MemorySegment createHandle(String name, OutCall c, StatusChecker checker) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            checker.check(c.call(out), name);
            return out.get(ValueLayout.ADDRESS, 0);
        }
    }

    interface StatusChecker {
        void check(int status, String call);
    }
}
