package dev.flint.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flint.guest.GuestAssets;
import dev.flint.guest.RootfsImage;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Guests booted from ext4 root file systems that {@code flint image build} made, on the emu engine: the
 * busybox image ({@link GuestRootfsChecks}, which {@code KvmGuestTest} runs on kvm, nested, ending with a
 * power-off) survives SIGKILL after the guest synced, and a Debian minbase image boots and powers off clean.
 */
@Tag("guest")
class EmuRootfsTest {
    private static final Duration BOOT = Duration.ofMinutes(10);

    @BeforeAll
    static void fetchGuest() {
        GuestAssets.open(GuestAssets.defaultCacheDir()).fetch(System.out);
    }

    @Test
    void theGuestBootsFromExt4ReadsAReadOnlyDriveAndItsSyncedDataSurvivesKillNine(@TempDir Path dir) throws Exception {
        GuestRootfsChecks.overTheCli("emu", dir, GuestRootfsChecks.Ending.KILL_NINE);
    }

    @Test
    void aDebianMinbaseImageBootsAndPowersOffClean(@TempDir Path dir) throws Exception {
        GuestAssets guest = GuestAssets.open(GuestAssets.defaultCacheDir());
        Path image = RootfsImage.of(RootfsImage.Flavour.DEBIAN, guest)
                .withExecutable("/etc/rc.local", """
                        #!/bin/sh
                        echo "DEBIAN-ROOT $(cat /etc/debian_version) $(dpkg-query -W -f='${Package}' dpkg)"
                        echo from-debian > /root/debian.txt
                        sync
                        mount -o remount,ro /
                        /bin/busybox poweroff -f
                        """)
                .build(dir.resolve("debian.ext4"), 1024, false, System.out);
        try (FlintProcess flint = FlintProcess.start("run", "--engine", "emu", "--memory", "256",
                "--drive", image.toString(), "--cmdline", "console=ttyS0 root=/dev/vda panic=-1")) {
            flint.noInput();
            flint.await("DEBIAN-ROOT ", BOOT);
            assertEquals(0, flint.exitCode(BOOT), flint.output());
            assertTrue(flint.output().matches("(?s).*DEBIAN-ROOT \\d+\\.\\d+ dpkg.*"), flint.output());
        }
        GuestRootfsChecks.assertClean(image, "the Debian image after power-off");
        assertEquals("from-debian\n", GuestRootfsChecks.debugfs(image, "cat /root/debian.txt").output());
    }
}
