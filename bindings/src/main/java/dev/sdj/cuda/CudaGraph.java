package dev.sdj.cuda;

import dev.sdj.bindings.cudart.cudart_h;

import java.lang.foreign.MemorySegment;

/**
 * Work captured from a stream once and replayed with one launch. The captured calls' pointers are baked in:
 * the buffers they use must stay open for as long as the graph is launched.
 */
public final class CudaGraph extends OwnedHandle {
    private MemorySegment graph;

    private CudaGraph(MemorySegment exec, MemorySegment graph) {
        super(exec);
        this.graph = graph;
    }

    /**
     * Captures what {@code work} enqueues on {@code stream} (thread-local capture mode: other threads' CUDA
     * calls are not affected) and instantiates it. If {@code work} throws, the capture is ended and discarded.
     */
    public static CudaGraph capture(CudaStream stream, Runnable work) {
        Cuda.check(cudart_h.cudaStreamBeginCapture(stream.handle(), cudart_h.cudaStreamCaptureModeThreadLocal()),
                "cudaStreamBeginCapture");
        MemorySegment graph;
        try {
            work.run();
        } catch (RuntimeException | Error e) {
            MemorySegment g = Cuda.createHandle("cudaStreamEndCapture",
                    out -> cudart_h.cudaStreamEndCapture(stream.handle(), out), (s, c) -> {});
            if (!g.equals(MemorySegment.NULL)) cudart_h.cudaGraphDestroy(g);
            cudart_h.cudaGetLastError();
            throw e;
        }
        graph = Cuda.createHandle("cudaStreamEndCapture",
                out -> cudart_h.cudaStreamEndCapture(stream.handle(), out), Cuda::check);
        try {
            MemorySegment exec = Cuda.createHandle("cudaGraphInstantiate",
                    out -> cudart_h.cudaGraphInstantiate(out, graph, 0L), Cuda::check);
            return new CudaGraph(exec, graph);
        } catch (RuntimeException e) {
            cudart_h.cudaGraphDestroy(graph);
            throw e;
        }
    }

    /** Enqueues one replay of the captured work on {@code stream}. */
    public void launch(CudaStream stream) {
        Cuda.check(cudart_h.cudaGraphLaunch(handle(), stream.handle()), "cudaGraphLaunch");
    }

    /** Uploads the graph's resources ahead of the first launch, so that launch is not slower than the rest. */
    public void upload(CudaStream stream) {
        Cuda.check(cudart_h.cudaGraphUpload(handle(), stream.handle()), "cudaGraphUpload");
    }

    @Override
    void destroy(MemorySegment exec) {
        int a = cudart_h.cudaGraphExecDestroy(exec);
        int b = cudart_h.cudaGraphDestroy(graph);
        graph = null;
        Cuda.check(a, "cudaGraphExecDestroy");
        Cuda.check(b, "cudaGraphDestroy");
    }

    @Override
    public String toString() {
        return "CudaGraph";
    }
}
