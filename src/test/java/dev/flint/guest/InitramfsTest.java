package dev.flint.guest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InitramfsTest {
    @TempDir Path tmp;

    /** The /init script of an archive, found by reading the cpio stream (newc: 110-byte header, name, data). */
    static String initScript(InitramfsBuilder b) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        b.writeCpio(out);
        String all = out.toString(StandardCharsets.ISO_8859_1);
        int start = all.indexOf("init\0");
        String header = all.substring(start - 110, start);
        int size = Integer.parseInt(header.substring(6 + 6 * 8, 6 + 7 * 8), 16);
        int dataStart = (start + 5 + 3) & ~3;
        return all.substring(dataStart, dataStart + size);
    }

    @Test
    void markerGuestPrintsMarkerThenCpuCountThenPowersOff() throws Exception {
        Path busybox = Files.write(tmp.resolve("busybox"), new byte[] {0x7f, 'E', 'L', 'F'});
        String init = initScript(Initramfs.marker("FLINT_OK_42", busybox));
        assertTrue(init.startsWith("#!/bin/busybox sh\n"), init);
        int marker = init.indexOf("echo FLINT_OK_42\n");
        int cpus = init.indexOf("echo \"cpus=$n\"");
        int off = init.indexOf("poweroff -f");
        assertTrue(marker > 0 && cpus > marker && off > cpus, init);
    }

    @Test
    void markerGuestScriptRunsUnderAHostShell() throws Exception {
        // The script's CPU counting is plain POSIX sh: run it against this host's /sys with the mounts and
        // power-off replaced, and compare with the host's own count of online CPUs.
        Path busybox = Files.write(tmp.resolve("busybox"), new byte[] {1});
        String init = initScript(Initramfs.marker("M", busybox));
        String body = init.substring(init.indexOf("echo M")).replace("poweroff -f", "true");
        Path script = Files.writeString(tmp.resolve("init.sh"), body);
        List<String> out = HostTools.run(tmp, null, "sh", script.toString());
        assertEquals(List.of("M", "cpus=" + Runtime.getRuntime().availableProcessors()), out);
    }

    @Test
    void shellGuestHasConsoleBusyboxAndAJobControlShell() throws Exception {
        Path busybox = Files.write(tmp.resolve("busybox"), new byte[] {1, 2, 3});
        InitramfsBuilder b = Initramfs.busyboxShell(busybox);
        Path archive = tmp.resolve("shell.cpio");
        try (var out = Files.newOutputStream(archive)) {
            b.writeCpio(out);
        }
        if (!HostTools.onPath("cpio")) HostTools.aptInstall("cpio");
        List<String> names = HostTools.run(tmp, archive, "cpio", "-it", "--quiet");
        assertTrue(names.containsAll(List.of("init", "bin/busybox", "dev/console", "proc", "sys")), names.toString());
        String init = initScript(b);
        assertTrue(init.contains("setsid cttyhack sh"), init);
        assertTrue(init.lastIndexOf("poweroff -f") > init.indexOf("setsid cttyhack sh"), "the VM ends when the shell exits");
    }

    @Test
    void shellGuestCarriesAndLoadsTheVirtioModulesInDependencyOrder() throws Exception {
        Path busybox = Files.write(tmp.resolve("busybox"), new byte[] {1});
        Path modules = tmp.resolve("lib/modules/9.9");
        for (String module : java.util.stream.Stream.concat(Initramfs.VIRTIO_MODULES.stream(),
                Initramfs.ROOT_FS_MODULES.stream()).toList()) {
            Files.createDirectories(modules.resolve(module).getParent());
            Files.writeString(modules.resolve(module), module);
        }
        InitramfsBuilder b = Initramfs.busyboxShell(busybox, modules);
        Path archive = tmp.resolve("shell.cpio");
        try (var out = Files.newOutputStream(archive)) {
            b.writeCpio(out);
        }
        if (!HostTools.onPath("cpio")) HostTools.aptInstall("cpio");
        List<String> names = HostTools.run(tmp, archive, "cpio", "-it", "--quiet");
        assertTrue(names.containsAll(List.of("lib/modules/virtio_ring.ko", "lib/modules/virtio_pci.ko",
                "lib/modules/virtio_blk.ko", "lib/modules/virtio-rng.ko")), names.toString());
        String init = initScript(b);
        int ring = init.indexOf("insmod /lib/modules/virtio_ring.ko");
        int core = init.indexOf("insmod /lib/modules/virtio.ko");
        int pci = init.indexOf("insmod /lib/modules/virtio_pci.ko");
        int blk = init.indexOf("insmod /lib/modules/virtio_blk.ko");
        int jbd2 = init.indexOf("insmod /lib/modules/jbd2.ko");
        int ext4 = init.indexOf("insmod /lib/modules/ext4.ko");
        int switchRoot = init.indexOf("switch_root /newroot");
        int shell = init.indexOf("setsid cttyhack sh");
        assertTrue(ring > 0 && core > ring && pci > core && blk > pci && shell > blk, init);
        assertTrue(jbd2 > 0 && ext4 > jbd2 && switchRoot > ext4 && shell > switchRoot,
                "ext4 loads after its dependencies and before root= is mounted:\n" + init);
    }

    @Test
    void markerMustBeSafeToPasteIntoAShellScript() {
        Path busybox = tmp.resolve("busybox");
        assertThrows(IllegalArgumentException.class, () -> Initramfs.marker("a; reboot", busybox));
        assertThrows(IllegalArgumentException.class, () -> Initramfs.marker("", busybox));
    }
}
