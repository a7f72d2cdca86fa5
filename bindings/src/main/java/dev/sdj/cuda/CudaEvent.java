package dev.sdj.cuda;

import dev.sdj.bindings.cudart.cudart_h;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** A CUDA event: a point in a stream, for ordering between streams and for timing on the device. */
public final class CudaEvent extends OwnedHandle {

    private CudaEvent(MemorySegment handle) {
        super(handle);
    }

    /** An event that records time, for {@link #elapsedMillisSince}. */
    public static CudaEvent create() {
        Cuda.load();
        return new CudaEvent(Cuda.createHandle("cudaEventCreate", out -> cudart_h.cudaEventCreate(out), Cuda::check));
    }

    /** An event without timing, cheaper, for ordering only. */
    public static CudaEvent createWithoutTiming() {
        Cuda.load();
        return new CudaEvent(Cuda.createHandle("cudaEventCreateWithFlags",
                out -> cudart_h.cudaEventCreateWithFlags(out, cudart_h.cudaEventDisableTiming()), Cuda::check));
    }

    public void record(CudaStream stream) {
        Cuda.check(cudart_h.cudaEventRecord(handle(), stream.handle()), "cudaEventRecord");
    }

    public void synchronize() {
        Cuda.check(cudart_h.cudaEventSynchronize(handle()), "cudaEventSynchronize");
    }

    /** Milliseconds of device time from {@code start} to this event; both recorded and complete. */
    public float elapsedMillisSince(CudaEvent start) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ms = arena.allocate(ValueLayout.JAVA_FLOAT);
            Cuda.check(cudart_h.cudaEventElapsedTime(ms, start.handle(), handle()), "cudaEventElapsedTime");
            return ms.get(ValueLayout.JAVA_FLOAT, 0);
        }
    }

    @Override
    void destroy(MemorySegment h) {
        Cuda.check(cudart_h.cudaEventDestroy(h), "cudaEventDestroy");
    }

    @Override
    public String toString() {
        return "CudaEvent";
    }
}
