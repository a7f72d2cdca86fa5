package dev.sdj.cuda;

import dev.sdj.bindings.CudaLibraries;
import dev.sdj.bindings.CudaLibraries.Library;
import dev.sdj.bindings.NativeLibraryNotFoundException;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * What works with the CUDA runtime library but without a GPU (CI's case): versions, status names, the clean
 * "no CUDA device" error. On a machine with a device the no-device tests skip; the GPU tests cover that side.
 */
class CudaRuntimeTest {

    @BeforeAll
    static void needsRuntime() {
        assumeTrue(CudaLibraries.isAvailable(Library.CUDART),
                "libcudart.so.13 is not installed here (no CUDA toolkit): " + CudaLibraries.Search.system().candidates(Library.CUDART));
    }

    @Test
    void runtimeLoadsAndReportsItsVersionWithoutADevice() {
        int v = Cuda.runtimeVersion();
        assertTrue(v >= 13000 && v < 14000, "CUDA runtime version " + v);
        assertTrue(Cuda.driverVersion() >= 0);
    }

    @Test
    void statusNamesComeFromTheRuntime() {
        assertEquals("cudaErrorMemoryAllocation", Cuda.errorName(2));
        assertEquals("cudaSuccess", Cuda.errorName(0));
        assertTrue(Cuda.errorString(2).toLowerCase().contains("memory"), Cuda.errorString(2));
        CudaException e = assertThrows(CudaException.class, () -> Cuda.check(2, "cudaMalloc(64 bytes)"));
        assertEquals("cudaMalloc(64 bytes) failed: cudaErrorMemoryAllocation (2): " + Cuda.errorString(2), e.getMessage());
        assertEquals(2, e.status());
        assertEquals("cudaErrorMemoryAllocation", e.statusName());
    }

    @Test
    void withoutADeviceEveryEntryPointSaysSoCleanly() {
        assumeTrue(Cuda.deviceCount() == 0, "this machine has a CUDA device");
        NoCudaDeviceException reason = Cuda.noDeviceReason();
        assertTrue(reason.getMessage().contains("no CUDA device"), reason.getMessage());
        assertTrue(reason.getMessage().startsWith("cudaGetDeviceCount failed"), reason.getMessage());

        NoCudaDeviceException e = assertThrows(NoCudaDeviceException.class, () -> CudaDevice.get(0));
        assertTrue(e.getMessage().contains("no CUDA device"), e.getMessage());
        // Allocation, streams and events fail the same way, as exceptions, and the JVM goes on.
        assertThrows(NoCudaDeviceException.class, () -> DeviceBuffer.allocate(1024));
        assertThrows(NoCudaDeviceException.class, CudaStream::create);
        assertThrows(NoCudaDeviceException.class, CudaEvent::create);
        assertEquals(0, CudaDevice.count());
    }

    @Test
    void cublasAndCudnnEitherLoadOrSayWhereTheyWereLookedFor() {
        for (Library lib : new Library[] {Library.CUBLASLT, Library.CUBLAS, Library.CUDNN}) {
            if (CudaLibraries.isAvailable(lib)) {
                assertTrue(CudaLibraries.load(lib).toString().contains(lib.fileName()));
            } else {
                NativeLibraryNotFoundException e = assertThrows(NativeLibraryNotFoundException.class,
                        () -> CudaLibraries.load(lib));
                assertTrue(e.getMessage().startsWith(lib.fileName() + " not found. Looked in:"), e.getMessage());
                assertTrue(e.getMessage().contains("site-packages") || e.getMessage().contains("/usr/local/cuda"),
                        e.getMessage());
            }
        }
        if (CudaLibraries.isAvailable(Library.CUBLAS)) assertTrue(Cublas.version() >= 130000, "cuBLAS " + Cublas.version());
        if (CudaLibraries.isAvailable(Library.CUDNN)) assertTrue(Cudnn.version() >= 90000, "cuDNN " + Cudnn.version());
    }
}
