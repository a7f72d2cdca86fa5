package dev.sdj.io.checkpoint;

import java.nio.file.Path;

/**
 * A checkpoint sdj cannot use: not safetensors, not a pipeline folder, a family it cannot tell.
 * The message starts with the file and names the key that decided, when one did. (A missing or
 * misshapen parameter is a {@link dev.sdj.model.WeightsException}; a malformed file a
 * {@link dev.sdj.io.SafeTensorsException}.)
 */
public final class CheckpointException extends IllegalArgumentException {
    private final String key;

    public CheckpointException(Path file, String key, String detail) {
        super(file + ": " + (key == null ? "" : "tensor '" + key + "': ") + detail);
        this.key = key;
    }

    public CheckpointException(Path file, String detail) {
        this(file, null, detail);
    }

    /** The key the message is about, or null. */
    public String key() {
        return key;
    }
}
