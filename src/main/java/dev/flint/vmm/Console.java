package dev.flint.vmm;

import java.io.InputStream;
import java.io.OutputStream;

/**
 * The guest's serial console as the host sees it: bytes the guest reads ({@code in}) and writes
 * ({@code out}). The CLI plugs in stdin/stdout; the API and tests plug in pipes, files or buffers.
 */
public record Console(InputStream in, OutputStream out) {
    /** A console that gives the guest no input and discards its output. */
    public static Console none() {
        return new Console(InputStream.nullInputStream(), OutputStream.nullOutputStream());
    }
}
