package dev.flint.engine.emu.diff;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;

/**
 * Child-JVM entry point that owns a {@link NativeCpu}. Protocol over stdin/stdout (big-endian):
 * the layout comes as arguments (sequence start, data, stack top, in hex); once mapped the child writes
 * the long 1; then for each request {@code int length, bytes, state} it answers with the final state. A request with length -1 ends the process.
 * If a sequence faults, the process dies and the parent sees end of stream: that is the point.
 */
public final class NativeCpuServer {
    private NativeCpuServer() {}

    public static void main(String[] args) throws Throwable {
        NativeCpu cpu = NativeCpu.map(new Layout(Long.parseLong(args[0], 16), Long.parseLong(args[1], 16),
                Long.parseLong(args[2], 16)));
        DataInputStream in = new DataInputStream(new BufferedInputStream(System.in, 1 << 16));
        DataOutputStream out = new DataOutputStream(new BufferedOutputStream(System.out, 1 << 16));
        out.writeLong(1);
        out.flush();
        while (true) {
            int length;
            try {
                length = in.readInt();
            } catch (EOFException e) {
                return;
            }
            if (length < 0) {
                return;
            }
            byte[] code = new byte[length];
            in.readFully(code);
            CpuState state = CpuState.read(in);
            cpu.run(code, state).write(out);
            out.flush();
        }
    }
}
