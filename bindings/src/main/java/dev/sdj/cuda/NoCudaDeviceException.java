package dev.sdj.cuda;

/** There is no usable CUDA device: none is installed, or no driver is loaded, or the index is out of range. */
public final class NoCudaDeviceException extends CudaException {
    public NoCudaDeviceException(String call, int status, String statusName, String detail) {
        super(call, status, statusName, "no CUDA device" + (detail == null || detail.isBlank() ? "" : " (" + detail + ")"));
    }
}
