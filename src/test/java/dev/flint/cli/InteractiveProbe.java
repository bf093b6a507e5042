package dev.flint.cli;

import dev.flint.arch.x86.Layout;
import dev.flint.engine.Engine.Availability;
import dev.flint.guest.GuestAssets;
import dev.flint.vmm.Engines;
import dev.flint.vmm.FakeEngine;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.util.List;

/**
 * Run by {@link InteractiveRunTest} under script(1): {@code flint run} exactly as main() sets it up (stdin
 * a terminal), with a fake engine whose guest echoes COM1 input in brackets until the VMM stops it.
 * Prints the terminal settings before and after, and the exit code.
 */
public final class InteractiveProbe {
    public static void main(String[] args) throws Exception {
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true);
        out.print("before " + TerminalProbe.settings() + "\r\n");
        FakeEngine echo = new FakeEngine("emu", Availability.yes(), vm -> {
            var io = vm.setup().portIo();
            vm.openSerial();
            vm.writeSerial("ready\r\n");
            while (!vm.stopped) {
                if ((io.read(Layout.COM1_PORT + 5, 1) & 1) != 0) vm.writeSerial("[" + (char) io.read(Layout.COM1_PORT, 1) + "]");
                else Thread.onSpinWait();
            }
        });
        CliContext context = new CliContext(System.in, out, System.err, TerminalMode::stdinIsTerminal,
                new Engines(List.of(() -> echo)), GuestAssets.defaultCacheDir());
        int code = Main.run(new String[] {"run", "--kernel", args[0]}, context);
        out.print("\r\nexit " + code + "\r\n");
        out.print("after " + TerminalProbe.settings() + "\r\n");
        System.exit(code);
    }
}
