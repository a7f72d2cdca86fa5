package dev.sdj.cuda;

import dev.sdj.bindings.cublas.cublas_h;
import dev.sdj.bindings.cudnn.cudnn_h;

/** Element types on the device, with their cuBLAS (cudaDataType) and cuDNN (cudnnDataType_t) codes. */
public enum DataType {
    F32(4), F16(2), BF16(2);

    private final int bytes;

    DataType(int bytes) {
        this.bytes = bytes;
    }

    public int bytes() {
        return bytes;
    }

    /** cudaDataType, as cublasGemmEx and cublasLt take it. */
    public int cudaCode() {
        return switch (this) {
            case F32 -> cublas_h.CUDA_R_32F();
            case F16 -> cublas_h.CUDA_R_16F();
            case BF16 -> cublas_h.CUDA_R_16BF();
        };
    }

    /** cudnnDataType_t. */
    public int cudnnCode() {
        return switch (this) {
            case F32 -> cudnn_h.CUDNN_DATA_FLOAT();
            case F16 -> cudnn_h.CUDNN_DATA_HALF();
            case BF16 -> cudnn_h.CUDNN_DATA_BFLOAT16();
        };
    }
}
