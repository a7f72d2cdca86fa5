package dev.sdj.cuda;

import java.lang.foreign.MemorySegment;

/**
 * One native handle with one owner. {@link #handle()} after {@link #close()} is an {@link IllegalStateException}
 * naming the object, never a call with a freed pointer; closing twice is harmless.
 */
abstract class OwnedHandle implements AutoCloseable {
    private MemorySegment handle;

    OwnedHandle(MemorySegment handle) {
        this.handle = handle;
    }

    /** The raw handle, for calls into the generated bindings. */
    public final synchronized MemorySegment handle() {
        if (handle == null) throw new IllegalStateException(this + " used after close");
        return handle;
    }

    public final synchronized boolean isClosed() {
        return handle == null;
    }

    @Override
    public final synchronized void close() {
        if (handle == null) return;
        MemorySegment h = handle;
        handle = null;
        destroy(h);
    }

    /** Frees the native object; called once. */
    abstract void destroy(MemorySegment handle);
}
