package dev.sdj.core;

/** Where a tensor's storage lives. Host storage can be read from Java; device storage cannot. */
public enum Device {
    CPU, CUDA
}
