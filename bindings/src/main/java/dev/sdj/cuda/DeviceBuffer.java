package dev.sdj.cuda;

import dev.sdj.bindings.cudart.cudart_h;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Device memory with one owner. Copies are size-checked against the buffer; a {@link #slice} is a view that
 * shares the owner's lifetime: once the owner is closed, every view refuses to hand out its pointer.
 */
public final class DeviceBuffer implements AutoCloseable {

    /** The allocation shared by a buffer and its slices. */
    private static final class Allocation {
        private final long bytes;
        private long address;
        private boolean closed;

        Allocation(long address, long bytes) {
            this.address = address;
            this.bytes = bytes;
        }
    }

    private final Allocation allocation;
    private final long offset;
    private final long bytes;
    private final boolean owner;

    private DeviceBuffer(Allocation allocation, long offset, long bytes, boolean owner) {
        this.allocation = allocation;
        this.offset = offset;
        this.bytes = bytes;
        this.owner = owner;
    }

    /** cudaMalloc of {@code bytes}; out of memory is a {@link DeviceOutOfMemoryException} with the free amount. */
    public static DeviceBuffer allocate(long bytes) {
        if (bytes < 0) throw new IllegalArgumentException("negative size " + bytes);
        Cuda.load();
        MemorySegment p = Cuda.createHandle("cudaMalloc(" + bytes + " bytes)", out -> cudart_h.cudaMalloc(out, bytes),
                (status, call) -> {
                    if (status == cudart_h.cudaErrorMemoryAllocation()) {
                        cudart_h.cudaGetLastError();
                        long free = -1, total = -1;
                        try {
                            CudaDevice.MemoryInfo m = CudaDevice.memoryInfo();
                            free = m.freeBytes();
                            total = m.totalBytes();
                        } catch (CudaException ignored) {
                            // the allocation error is the one to report
                        }
                        throw new DeviceOutOfMemoryException("cudaMalloc", status, Cuda.errorName(status), bytes, free, total);
                    }
                    Cuda.check(status, call);
                });
        return new DeviceBuffer(new Allocation(p.address(), bytes), 0, bytes, true);
    }

    /** A view of {@code bytes} bytes at {@code offset}; it is not closed on its own and dies with its owner. */
    public DeviceBuffer slice(long offset, long bytes) {
        if (offset < 0 || bytes < 0 || offset + bytes > this.bytes) {
            throw new IndexOutOfBoundsException("slice [" + offset + ", " + (offset + bytes) + ") of a " + this.bytes
                    + "-byte device buffer");
        }
        checkOpen();
        return new DeviceBuffer(allocation, this.offset + offset, bytes, false);
    }

    public long byteSize() {
        return bytes;
    }

    /** The device address, for the generated bindings; valid while the owner is open. */
    public MemorySegment pointer() {
        checkOpen();
        return MemorySegment.ofAddress(allocation.address + offset);
    }

    /** The device address {@code byteOffset} bytes in, checked against the size. */
    public MemorySegment pointer(long byteOffset) {
        if (byteOffset < 0 || byteOffset > bytes) {
            throw new IndexOutOfBoundsException("offset " + byteOffset + " in a " + bytes + "-byte device buffer");
        }
        checkOpen();
        return MemorySegment.ofAddress(allocation.address + offset + byteOffset);
    }

    /** Copies all of {@code src} to the start of this buffer and waits for it. */
    public void copyFromHost(MemorySegment src) {
        copyFromHost(src, 0);
    }

    /** Copies all of {@code src} to {@code dstOffset} bytes into this buffer and waits for it. */
    public void copyFromHost(MemorySegment src, long dstOffset) {
        checkRange("copyFromHost", dstOffset, src.byteSize());
        withNative(src, true, s -> Cuda.check(cudart_h.cudaMemcpy(pointer(dstOffset), s, src.byteSize(),
                cudart_h.cudaMemcpyHostToDevice()), "cudaMemcpy(host to device, " + src.byteSize() + " bytes)"));
    }

    /** Fills all of {@code dst} from the start of this buffer and waits for it. */
    public void copyToHost(MemorySegment dst) {
        copyToHost(dst, 0);
    }

    /** Fills all of {@code dst} from {@code srcOffset} bytes into this buffer and waits for it. */
    public void copyToHost(MemorySegment dst, long srcOffset) {
        checkRange("copyToHost", srcOffset, dst.byteSize());
        withNative(dst, false, d -> Cuda.check(cudart_h.cudaMemcpy(d, pointer(srcOffset), dst.byteSize(),
                cudart_h.cudaMemcpyDeviceToHost()), "cudaMemcpy(device to host, " + dst.byteSize() + " bytes)"));
    }

    /** Enqueues a copy of {@code src} (native memory, ideally pinned) to the start of this buffer. */
    public void copyFromHostAsync(MemorySegment src, CudaStream stream) {
        checkRange("copyFromHostAsync", 0, src.byteSize());
        requireNative(src, "copyFromHostAsync");
        Cuda.check(cudart_h.cudaMemcpyAsync(pointer(), src, src.byteSize(), cudart_h.cudaMemcpyHostToDevice(),
                stream.handle()), "cudaMemcpyAsync(host to device, " + src.byteSize() + " bytes)");
    }

    /** Enqueues a copy of this buffer's first {@code dst.byteSize()} bytes into {@code dst} (native memory). */
    public void copyToHostAsync(MemorySegment dst, CudaStream stream) {
        checkRange("copyToHostAsync", 0, dst.byteSize());
        requireNative(dst, "copyToHostAsync");
        Cuda.check(cudart_h.cudaMemcpyAsync(dst, pointer(), dst.byteSize(), cudart_h.cudaMemcpyDeviceToHost(),
                stream.handle()), "cudaMemcpyAsync(device to host, " + dst.byteSize() + " bytes)");
    }

    /** Enqueues a device-to-device copy of all of {@code src} into this buffer; the sizes must match. */
    public void copyFromAsync(DeviceBuffer src, CudaStream stream) {
        if (src.bytes != bytes) {
            throw new IllegalArgumentException("copy of a " + src.bytes + "-byte buffer into a " + bytes + "-byte one");
        }
        Cuda.check(cudart_h.cudaMemcpyAsync(pointer(), src.pointer(), bytes, cudart_h.cudaMemcpyDeviceToDevice(),
                stream.handle()), "cudaMemcpyAsync(device to device, " + bytes + " bytes)");
    }

    /** Sets every byte to {@code value} and waits for it. */
    public void fill(byte value) {
        Cuda.check(cudart_h.cudaMemset(pointer(), value, bytes), "cudaMemset(" + bytes + " bytes)");
    }

    /** Enqueues setting every byte to {@code value}. */
    public void fillAsync(byte value, CudaStream stream) {
        Cuda.check(cudart_h.cudaMemsetAsync(pointer(), value, bytes, stream.handle()),
                "cudaMemsetAsync(" + bytes + " bytes)");
    }

    public boolean isClosed() {
        synchronized (allocation) {
            return allocation.closed;
        }
    }

    /** Frees the memory (the owner only; closing a slice does nothing). Idempotent. */
    @Override
    public void close() {
        if (!owner) return;
        long address;
        synchronized (allocation) {
            if (allocation.closed) return;
            allocation.closed = true;
            address = allocation.address;
            allocation.address = 0;
        }
        Cuda.check(cudart_h.cudaFree(MemorySegment.ofAddress(address)), "cudaFree(" + allocation.bytes + " bytes)");
    }

    private void checkOpen() {
        synchronized (allocation) {
            if (allocation.closed) throw new IllegalStateException(this + " used after close");
        }
    }

    private void checkRange(String op, long at, long n) {
        if (at < 0 || n < 0 || at + n > bytes) {
            throw new IndexOutOfBoundsException(op + ": " + n + " bytes at offset " + at + " do not fit " + this);
        }
    }

    private static void requireNative(MemorySegment host, String op) {
        if (!host.isNative()) {
            throw new IllegalArgumentException(op + " needs native (off-heap) host memory, ideally pinned; got a heap segment");
        }
    }

    /** Runs {@code copy} on {@code host} itself when it is native, else on a native staging copy. */
    private static void withNative(MemorySegment host, boolean in, java.util.function.Consumer<MemorySegment> copy) {
        if (host.isNative()) {
            copy.accept(host);
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment staging = arena.allocate(host.byteSize(), 16);
            if (in) staging.copyFrom(host);
            copy.accept(staging);
            if (!in) host.copyFrom(staging);
        }
    }

    @Override
    public String toString() {
        return (owner ? "DeviceBuffer(" : "DeviceBuffer slice(") + bytes + " bytes"
                + (owner ? "" : " at " + offset + " of " + allocation.bytes) + ")";
    }
}
