package dev.sdj.cuda;

/** A CUDA, cuBLAS or cuDNN call failed; the message names the call, the status name, its number and message. */
public class CudaException extends RuntimeException {
    private final String call;
    private final int status;
    private final String statusName;

    public CudaException(String call, int status, String statusName, String detail) {
        super(call + " failed: " + statusName + " (" + status + ")" + (detail == null || detail.isBlank() ? "" : ": " + detail));
        this.call = call;
        this.status = status;
        this.statusName = statusName;
    }

    /** The library call that failed, e.g. {@code cudaMalloc}. */
    public String call() {
        return call;
    }

    /** Its status code (cudaError_t, cublasStatus_t or cudnnStatus_t). */
    public int status() {
        return status;
    }

    /** The status' name, e.g. {@code cudaErrorMemoryAllocation}. */
    public String statusName() {
        return statusName;
    }
}
