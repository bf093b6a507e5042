package dev.flint.devices.vhostuser;

import dev.flint.boot.FlintProcess;
import dev.flint.guest.GuestAssets;
import dev.flint.testing.Await;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Flint as a vhost-user front end, one emu boot of the stock kernel with two vhost-user disks: /dev/vda
 * served by QEMU's qemu-storage-daemon, /dev/vdb by {@code flint device blk} in its own process. The
 * guest reads and writes both; then the Flint back end is killed with SIGKILL while the guest keeps
 * reading /dev/vdb: those reads fail with an I/O error, /dev/vda still works, and the guest powers off
 * normally (the VM went on).
 */
@Tag("guest")
class FlintFrontEndGuestTest {
    private static final Path QSD = Path.of("/usr/bin/qemu-storage-daemon");
    private static final Duration BOOT = Duration.ofMinutes(10), STEP = Duration.ofMinutes(3);

    @TempDir Path dir;

    @Test
    void theGuestUsesDisksFromQemuStorageDaemonAndFromFlintAndOutlivesTheFlintBackEnd() throws Exception {
        assumeTrue(Files.isExecutable(QSD), "qemu-storage-daemon not installed (Debian's qemu-system-common)");
        GuestAssets guest = GuestAssets.open(GuestAssets.defaultCacheDir());
        guest.fetch(System.out);
        Path qsdImage = VhostUserGuest.image(dir, "qsd.img"), flintImage = VhostUserGuest.image(dir, "flint.img");
        Path qsdSocket = dir.resolve("qsd.sock"), flintSocket = dir.resolve("flint.sock");
        String body = VhostUserGuest.readAndWrite("vda") + VhostUserGuest.readAndWrite("vdb") + """
                echo phase-one-done
                i=0
                while [ $i -lt 1200 ]; do
                  if ! dd if=/dev/vdb of=/dev/null bs=512 count=1 iflag=direct 2>/dev/null; then echo vdb-read-failed; break; fi
                  sleep 0.5; i=$((i+1))
                done
                echo "vda-after:$(dd if=/dev/vda bs=512 count=1 iflag=direct 2>/dev/null | head -n 1)"
                """;
        Path initrd = VhostUserGuest.initramfs(guest, dir, "vdb", body);
        Process qsd = new ProcessBuilder(List.of(QSD.toString(),
                "--blockdev", "driver=file,node-name=f,filename=" + qsdImage,
                "--export", "type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path=" + qsdSocket + ",writable=on"))
                .redirectErrorStream(true).redirectOutput(dir.resolve("qsd.log").toFile()).start();
        try (FlintProcess backend = FlintProcess.start("device", "blk", "--socket", flintSocket.toString(), "--image", flintImage.toString())) {
            backend.await("serving " + flintImage, STEP);
            assertTrue(Await.holdsWithin(STEP, () -> Files.exists(qsdSocket)), "qemu-storage-daemon's socket");
            try (FlintProcess vm = FlintProcess.start("run", "--engine", "emu", "--memory", "256",
                    "--kernel", guest.kernel().toString(), "--initrd", initrd.toString(), "--cmdline", "console=ttyS0 panic=-1",
                    "--drive", qsdSocket + ",if=vhost-user", "--drive", flintSocket + ",if=vhost-user")) {
                vm.await("phase-one-done", BOOT);
                backend.kill();
                vm.await("vdb-read-failed", STEP);
                vm.await("vda-after:" + VhostUserGuest.HOST_MARKER, STEP);
                assertEquals(0, vm.exitCode(STEP), vm.output());
                String console = vm.output();
                VhostUserGuest.assertReadAndWritten(console, "vda", qsdImage);
                VhostUserGuest.assertReadAndWritten(console, "vdb", flintImage);
                assertTrue(console.contains("the disk fails every request from now on"), "one line says the back end was lost\n" + console);
            }
        } finally {
            qsd.destroy();
            if (!qsd.waitFor(30, TimeUnit.SECONDS)) qsd.destroyForcibly();
        }
    }
}
