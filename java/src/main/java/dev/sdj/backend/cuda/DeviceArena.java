package dev.sdj.backend.cuda;

import dev.sdj.backend.Backend;
import dev.sdj.cuda.DeviceBuffer;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * Device memory for the CUDA backend's tensors. Outside any scope an allocation is its own cudaMalloc, kept
 * until the backend closes (weights). Inside a scope it is a bump of one arena, and closing the scope pops
 * everything allocated since it opened (scopes nest, last opened first closed). When the arena is too small
 * the excess comes from overflow buffers, which go back to a pool when their scope closes and serve the same
 * requests in the next step; once the outermost scope closes, the pool is freed and the arena grows to the
 * largest total seen. So the first step plans the memory and the following ones allocate nothing: no
 * cudaMalloc, no cudaFree, one stream ordering all reuse.
 */
final class DeviceArena implements AutoCloseable {
    /** cuBLAS/cuDNN and vector loads like 256-byte alignment; cudaMalloc gives at least that. */
    static final long ALIGN = 256;
    /** Growth granularity, so a slightly bigger image does not reallocate. */
    private static final long GROW = 64L << 20;

    private record Frame(long mark, long overflowAtOpen, List<DeviceBuffer> overflow) {}

    private final List<DeviceBuffer> persistent = new ArrayList<>();
    private final Deque<Frame> frames = new ArrayDeque<>();
    private final List<DeviceBuffer> pool = new ArrayList<>();
    private DeviceBuffer arena;
    private long top;
    private long overflowBytes;
    private long highWater;
    private long persistentBytes;
    private boolean closed;
    /** Counts arena reallocations: addresses handed out before one are not reused after it. */
    private long epoch;

    /** The device address of {@code bytes} fresh bytes (contents undefined). */
    synchronized long allocate(long bytes) {
        if (closed) throw new IllegalStateException("the CUDA backend is closed");
        long size = align(Math.max(bytes, 1));
        if (frames.isEmpty()) {
            DeviceBuffer b = DeviceBuffer.allocate(size);
            persistent.add(b);
            persistentBytes += size;
            return b.pointer().address();
        }
        if (arena != null && top + size <= arena.byteSize()) {
            long address = arena.pointer().address() + top;
            top += size;
            highWater = Math.max(highWater, top + overflowBytes);
            return address;
        }
        DeviceBuffer b = fromPool(size);
        frames.peek().overflow.add(b);
        overflowBytes += size;
        highWater = Math.max(highWater, top + overflowBytes);
        return b.pointer().address();
    }

    synchronized Backend.Scope open() {
        if (closed) throw new IllegalStateException("the CUDA backend is closed");
        Frame f = new Frame(top, overflowBytes, new ArrayList<>());
        frames.push(f);
        return () -> close(f);
    }

    private synchronized void close(Frame f) {
        if (closed || !frames.contains(f)) return; // closed already (twice, or with the backend)
        if (frames.peek() != f) throw new IllegalStateException("backend scopes must close in reverse order of opening");
        frames.pop();
        pool.addAll(f.overflow);
        top = f.mark;
        overflowBytes = f.overflowAtOpen;
        if (frames.isEmpty() && (arena == null || highWater > arena.byteSize())) {
            for (DeviceBuffer b : pool) b.close();
            pool.clear();
            if (arena != null) arena.close();
            arena = null;
            epoch++;
            arena = DeviceBuffer.allocate((highWater + GROW - 1) / GROW * GROW);
        }
    }

    /**
     * Where the next scoped allocation would go, as a key a cached CUDA graph can be checked against: the same key
     * means the same addresses for the same sequence of allocations. Null when that does not hold: outside a
     * scope, or while overflow buffers (first steps, before the arena has grown) are in use.
     */
    synchronized java.util.List<Long> position() {
        if (frames.isEmpty() || overflowBytes > 0 || arena == null) return null;
        return java.util.List.of(epoch, arena.pointer().address(), top);
    }

    /** The smallest pooled buffer that holds {@code size} bytes, or a new one. */
    private DeviceBuffer fromPool(long size) {
        DeviceBuffer best = null;
        for (DeviceBuffer b : pool) {
            if (b.byteSize() >= size && (best == null || b.byteSize() < best.byteSize())) best = b;
        }
        if (best == null) return DeviceBuffer.allocate(size);
        pool.remove(best);
        return best;
    }

    /** Bytes of the arena, of weights and other allocations outside scopes, and the most a scope needed. */
    synchronized String usage() {
        return String.format(java.util.Locale.ROOT, "arena %.1f MiB (peak scope use %.1f MiB), %d persistent buffers %.1f MiB",
                (arena == null ? 0 : arena.byteSize()) / 1048576.0, highWater / 1048576.0, persistent.size(),
                persistentBytes / 1048576.0);
    }

    synchronized long arenaBytes() {
        return arena == null ? 0 : arena.byteSize();
    }

    synchronized long persistentBytes() {
        return persistentBytes;
    }

    static long align(long bytes) {
        return (bytes + ALIGN - 1) / ALIGN * ALIGN;
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        RuntimeException first = null;
        List<DeviceBuffer> all = new ArrayList<>(persistent);
        for (Frame f : frames) all.addAll(f.overflow);
        all.addAll(pool);
        if (arena != null) all.add(arena);
        for (DeviceBuffer b : all) {
            try {
                b.close();
            } catch (RuntimeException e) {
                if (first == null) first = e;
            }
        }
        frames.clear();
        persistent.clear();
        pool.clear();
        arena = null;
        if (first != null) throw first;
    }
}
