package dev.sdj.io.checkpoint;

import dev.sdj.io.SafeTensorsFile;

/**
 * A mapped checkpoint shared by its {@link Checkpoint} and the weights views taken from it (one
 * file holds the U-Net, the VAE and the text encoders): unmapped when the last of them closes, so
 * closing the Checkpoint leaves loaded models working.
 */
final class SharedFile {
    final SafeTensorsFile file;
    private int refs = 1;

    SharedFile(SafeTensorsFile file) {
        this.file = file;
    }

    synchronized SharedFile retain() {
        if (refs == 0) throw new IllegalStateException(file.path() + ": checkpoint is closed");
        refs++;
        return this;
    }

    synchronized void release() {
        if (refs > 0 && --refs == 0) file.close();
    }
}
