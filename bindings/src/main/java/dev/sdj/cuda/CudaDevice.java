package dev.sdj.cuda;

import dev.sdj.bindings.cudart.cudaDeviceProp;
import dev.sdj.bindings.cudart.cudart_h;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** A CUDA device and the properties sdj plans with. */
public record CudaDevice(int index, String name, int major, int minor, int multiProcessorCount, long totalMemory,
                         int l2CacheBytes, long sharedMemoryPerBlockOptin) {

    /** The number of devices; 0 without a device or driver. */
    public static int count() {
        return Cuda.deviceCount();
    }

    /** Device {@code index}, or a {@link NoCudaDeviceException} that says why there is none. */
    public static CudaDevice get(int index) {
        int n = Cuda.deviceCount();
        if (n == 0) throw Cuda.noDeviceReason();
        if (index < 0 || index >= n) {
            throw new NoCudaDeviceException("cudaGetDeviceProperties", cudart_h.cudaErrorInvalidDevice(),
                    "cudaErrorInvalidDevice", "device " + index + " asked for, " + n + " present");
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = cudaDeviceProp.allocate(arena);
            Cuda.check(cudart_h.cudaGetDeviceProperties(p, index), "cudaGetDeviceProperties(" + index + ")");
            return new CudaDevice(index, cudaDeviceProp.name(p).getString(0), cudaDeviceProp.major(p),
                    cudaDeviceProp.minor(p), cudaDeviceProp.multiProcessorCount(p), cudaDeviceProp.totalGlobalMem(p),
                    cudaDeviceProp.l2CacheSize(p), cudaDeviceProp.sharedMemPerBlockOptin(p));
        }
    }

    /** The current device of the calling thread. */
    public static CudaDevice current() {
        return get(Cuda.readInt("cudaGetDevice", out -> cudart_h.cudaGetDevice(out)));
    }

    /** Makes this the calling thread's current device. */
    public void makeCurrent() {
        Cuda.check(cudart_h.cudaSetDevice(index), "cudaSetDevice(" + index + ")");
    }

    /** Waits for all work on the current device. */
    public static void synchronize() {
        Cuda.load();
        Cuda.check(cudart_h.cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    }

    /** Free and total memory of the current device, in bytes. */
    public static MemoryInfo memoryInfo() {
        Cuda.load();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment free = arena.allocate(ValueLayout.JAVA_LONG);
            MemorySegment total = arena.allocate(ValueLayout.JAVA_LONG);
            Cuda.check(cudart_h.cudaMemGetInfo(free, total), "cudaMemGetInfo");
            return new MemoryInfo(free.get(ValueLayout.JAVA_LONG, 0), total.get(ValueLayout.JAVA_LONG, 0));
        }
    }

    public record MemoryInfo(long freeBytes, long totalBytes) {}

    /** "sm_90" style compute capability. */
    public String smVersion() {
        return "sm_" + major + minor;
    }

    @Override
    public String toString() {
        return "CUDA device " + index + ": " + name + " (" + smVersion() + ", " + multiProcessorCount + " SMs, "
                + Cuda.mib(totalMemory) + ")";
    }
}
