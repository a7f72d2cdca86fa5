package dev.sdj.cuda;

import dev.sdj.bindings.cublas.cublas_h;
import dev.sdj.bindings.cublaslt.cublasLt_h;
import dev.sdj.bindings.cudart.cudaDeviceProp;
import dev.sdj.bindings.cudart.cudart_h;
import dev.sdj.bindings.cudnn.cudnn_h;
import dev.sdj.bindings.kernels.sdj_kernels_h;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The generated classes load on a machine without the libraries (generated without -l), and their constants hold. */
class GeneratedBindingsTest {

    @Test
    void headerClassesInitialiseWithoutTheirLibraries() throws Exception {
        for (Class<?> c : new Class<?>[] {cudart_h.class, cublas_h.class, cublasLt_h.class, cudnn_h.class, sdj_kernels_h.class}) {
            Class.forName(c.getName(), true, c.getClassLoader());
        }
    }

    @Test
    void constantsAreTheHeadersValues() {
        assertEquals(13000, cudart_h.CUDART_VERSION());
        assertEquals(0, cudart_h.cudaSuccess());
        assertEquals(2, cudart_h.cudaErrorMemoryAllocation());
        assertEquals(100, cudart_h.cudaErrorNoDevice());
        assertEquals(1, cudart_h.cudaMemcpyHostToDevice());
        assertEquals(0, cublas_h.CUDA_R_32F());
        assertEquals(2, cublas_h.CUDA_R_16F());
        assertEquals(14, cublas_h.CUDA_R_16BF());
        assertEquals(68, cublas_h.CUBLAS_COMPUTE_32F());
        assertEquals(9, cudnn_h.CUDNN_MAJOR());
        assertEquals(1, cudnn_h.CUDNN_TENSOR_NHWC());
        assertEquals(dev.sdj.bindings.SdjKernels.ABI_VERSION, sdj_kernels_h.SDJ_KERNELS_ABI_VERSION());
        assertTrue(cublasLt_h.CUBLASLT_EPILOGUE_GELU_BIAS() > 0);
    }

    @Test
    void deviceStructHasTheRuntimesLayout() {
        // cudaDeviceProp grew over CUDA versions; the generated layout must put name first and be CUDA 13's size.
        assertEquals(0, cudaDeviceProp.layout().byteOffset(java.lang.foreign.MemoryLayout.PathElement.groupElement("name")));
        assertTrue(cudaDeviceProp.sizeof() > 1000, "sizeof(cudaDeviceProp) " + cudaDeviceProp.sizeof());
    }
}
