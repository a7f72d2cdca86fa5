package dev.sdj.cuda;

import dev.sdj.bindings.cudart.cudart_h;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Page-locked host memory (cudaMallocHost), for asynchronous copies. {@link #segment()} is bounded and dies with
 * this buffer: touching it after {@link #close()} is an {@link IllegalStateException}, not a read of freed memory.
 */
public final class PinnedHostBuffer implements AutoCloseable {
    private final Arena arena;
    private final MemorySegment segment;

    private PinnedHostBuffer(Arena arena, MemorySegment segment) {
        this.arena = arena;
        this.segment = segment;
    }

    public static PinnedHostBuffer allocate(long bytes) {
        if (bytes <= 0) throw new IllegalArgumentException("size must be positive: " + bytes);
        Cuda.load();
        MemorySegment p = Cuda.createHandle("cudaMallocHost(" + bytes + " bytes)",
                out -> cudart_h.cudaMallocHost(out, bytes), Cuda::check);
        Arena arena = Arena.ofShared();
        // the arena's cleanup frees the pages, so the segment and the memory die together
        MemorySegment s = p.reinterpret(bytes, arena, ptr -> Cuda.check(cudart_h.cudaFreeHost(ptr), "cudaFreeHost"));
        return new PinnedHostBuffer(arena, s);
    }

    public MemorySegment segment() {
        return segment;
    }

    public long byteSize() {
        return segment.byteSize();
    }

    @Override
    public void close() {
        if (arena.scope().isAlive()) arena.close();
    }
}
