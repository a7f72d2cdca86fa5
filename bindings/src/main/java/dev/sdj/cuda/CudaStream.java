package dev.sdj.cuda;

import dev.sdj.bindings.cudart.cudart_h;

import java.lang.foreign.MemorySegment;

/** A CUDA stream: work enqueued on it runs in order. */
public final class CudaStream extends OwnedHandle {

    private CudaStream(MemorySegment handle) {
        super(handle);
    }

    /** A stream that does not synchronize with the legacy default stream (what sdj uses). */
    public static CudaStream create() {
        Cuda.load();
        return new CudaStream(Cuda.createHandle("cudaStreamCreateWithFlags",
                out -> cudart_h.cudaStreamCreateWithFlags(out, cudart_h.cudaStreamNonBlocking()), Cuda::check));
    }

    /** Waits until everything enqueued so far has run; reports an asynchronous error of that work. */
    public void synchronize() {
        Cuda.check(cudart_h.cudaStreamSynchronize(handle()), "cudaStreamSynchronize");
    }

    /** Makes later work on this stream wait for the event. */
    public void waitFor(CudaEvent event) {
        Cuda.check(cudart_h.cudaStreamWaitEvent(handle(), event.handle(), 0), "cudaStreamWaitEvent");
    }

    /** Whether the stream is being captured into a graph. */
    public boolean isCapturing() {
        return Cuda.readInt("cudaStreamIsCapturing", out -> cudart_h.cudaStreamIsCapturing(handle(), out))
                != cudart_h.cudaStreamCaptureStatusNone();
    }

    @Override
    void destroy(MemorySegment h) {
        Cuda.check(cudart_h.cudaStreamDestroy(h), "cudaStreamDestroy");
    }

    @Override
    public String toString() {
        return "CudaStream";
    }
}
