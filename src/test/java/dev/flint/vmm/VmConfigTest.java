package dev.flint.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VmConfigTest {
    @TempDir Path tmp;

    private String rejection(Path kernel, Path initrd, String cmdline, int cpus, long memoryMib, String engine) {
        return assertThrows(VmConfigException.class, () -> VmConfig.builder(kernel).initrd(initrd).cmdline(cmdline).cpus(cpus).memoryMib(memoryMib).engine(engine).build()).getMessage();
    }

    @Test
    void acceptsASaneMachineAndFillsDefaults() throws Exception {
        Path kernel = Files.writeString(tmp.resolve("vmlinuz"), "k");
        VmConfig config = VmConfig.builder(kernel).cmdline(null).cpus(2).memoryMib(256).engine(null).build();
        assertEquals("", config.cmdline());
        assertEquals("auto", config.engine());
        assertEquals(256L << 20, config.memoryBytes());
    }

    @Test
    void eachBadValueGetsOneLineThatNamesIt() throws Exception {
        Path kernel = Files.writeString(tmp.resolve("vmlinuz"), "k");
        assertEquals("kernel not found: " + tmp.resolve("nope"), rejection(tmp.resolve("nope"), null, "", 1, 256, "auto"));
        assertEquals("kernel is not a regular file: " + tmp, rejection(tmp, null, "", 1, 256, "auto"));
        assertEquals("initrd not found: " + tmp.resolve("i"), rejection(kernel, tmp.resolve("i"), "", 1, 256, "auto"));
        assertEquals("--cpus 0: a VM needs at least 1 vCPU", rejection(kernel, null, "", 0, 256, "auto"));
        assertEquals("--cpus 255: at most 254 vCPUs are supported", rejection(kernel, null, "", 255, 256, "auto"));
        assertEquals("guest memory 16 MiB is too small: at least 64 MiB needed", rejection(kernel, null, "", 1, 16, "auto"));
        assertEquals("guest memory 2097152 MiB is too large: at most 1048576 MiB", rejection(kernel, null, "", 1, 2L << 20, "auto"));
        assertEquals("unknown engine 'tcg' (choose one of auto, kvm, emu)", rejection(kernel, null, "", 1, 256, "tcg"));
        assertEquals("the kernel command line is 2048 bytes; at most 2047 fit", rejection(kernel, null, "x".repeat(2048), 1, 256, "auto"));
        assertEquals("no kernel given", rejection(null, null, "", 1, 256, "auto"));
    }

    @Test
    void emptyNvmeControllersAreCountedAndTakePciSlots() throws Exception {
        Path kernel = Files.writeString(tmp.resolve("vmlinuz"), "k");
        java.util.List<dev.flint.devices.virtio.block.DriveConfig> none = java.util.List.of();
        assertEquals(2, VmConfig.builder(kernel).cpus(1).memoryMib(256).engine("emu").drives(none).rng(false).emptyNvmeControllers(2).build().emptyNvmeControllers());
        assertEquals("--nvme-controllers -1: cannot be negative", assertThrows(VmConfigException.class,
                () -> VmConfig.builder(kernel).cpus(1).memoryMib(256).engine("emu").drives(none).rng(false).emptyNvmeControllers(-1).build()).getMessage());
        String full = assertThrows(VmConfigException.class,
                () -> VmConfig.builder(kernel).cpus(1).memoryMib(256).engine("emu").drives(none).rng(true).emptyNvmeControllers(31).build()).getMessage();
        assertEquals("0 drives, 0 network interfaces and 31 empty NVMe controllers do not fit on PCI bus 0 (at most 31 devices)", full);
    }
}
