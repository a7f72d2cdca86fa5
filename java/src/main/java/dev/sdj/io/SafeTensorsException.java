package dev.sdj.io;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A safetensors file that cannot be read as one. The message always starts with the file and, when
 * one entry is at fault, names that tensor, so a bad checkpoint can be found without a debugger.
 */
public final class SafeTensorsException extends IOException {
    private static final long serialVersionUID = 1L;

    private final transient Path file; // Path is not Serializable
    private final String tensor;

    public SafeTensorsException(Path file, String detail) {
        this(file, null, detail, null);
    }

    public SafeTensorsException(Path file, String tensor, String detail) {
        this(file, tensor, detail, null);
    }

    public SafeTensorsException(Path file, String tensor, String detail, Throwable cause) {
        super(file + ": " + (tensor == null ? "" : "tensor '" + tensor + "': ") + detail, cause);
        this.file = file;
        this.tensor = tensor;
    }

    /** The file at fault. */
    public Path file() {
        return file;
    }

    /** The tensor at fault, or null when the fault is the file's as a whole. */
    public String tensor() {
        return tensor;
    }
}
