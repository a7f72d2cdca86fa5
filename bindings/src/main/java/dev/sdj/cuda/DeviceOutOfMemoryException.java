package dev.sdj.cuda;

/** A device allocation failed; the message says how much was asked for and how much the device had free. */
public final class DeviceOutOfMemoryException extends CudaException {
    private final long requestedBytes;
    private final long freeBytes;

    public DeviceOutOfMemoryException(String call, int status, String statusName, long requestedBytes, long freeBytes,
                                      long totalBytes) {
        super(call, status, statusName, "out of device memory: asked for " + Cuda.mib(requestedBytes) + ", "
                + (freeBytes < 0 ? "free memory unknown" : Cuda.mib(freeBytes) + " free of " + Cuda.mib(totalBytes)));
        this.requestedBytes = requestedBytes;
        this.freeBytes = freeBytes;
    }

    public long requestedBytes() {
        return requestedBytes;
    }

    /** Free device memory when the allocation failed, or -1 when it could not be read. */
    public long freeBytes() {
        return freeBytes;
    }
}
