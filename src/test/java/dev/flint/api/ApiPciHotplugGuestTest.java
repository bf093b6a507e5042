package dev.flint.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flint.boot.FlintProcess;
import dev.flint.guest.GuestAssets;
import dev.flint.guest.Initramfs;
import dev.flint.testing.Await;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * EC2's way of attaching EBS volumes, through the Firecracker-style API on the emu engine with the stock
 * Debian kernel: each volume is an NVMe controller of its own, hot-plugged on the PCI bus (ACPI Generic
 * Event Device → the kernel's acpiphp scans the slot → the nvme driver binds), with the drive id as its
 * serial. A volume attached at launch sits in a hot-pluggable slot from boot. A plain DELETE asks the guest to
 * eject and completes only when it did, for both; a guest that does not answer (its GED driver unbound) keeps the
 * drive detaching until a forced DELETE removes it at once, even under I/O, and the events sent meanwhile reach
 * the guest when its GED driver binds again.
 */
@Tag("guest")
class ApiPciHotplugGuestTest {
    private static final Duration STEP = Duration.ofMinutes(2);

    private static String newController(String id, Path image) {
        return "{\"drive_id\": \"" + id + "\", \"path_on_host\": \"" + image + "\", \"is_root_device\": false,"
                + " \"is_read_only\": false, \"interface\": \"nvme\", \"nvme_controller\": \"new\"}";
    }

    /** Waits in the guest for an NVMe controller whose serial is {@code serial} and prints its block device. */
    private static String findBySerial(String serial, String marker) {
        return "i=0; d=; while [ -z \"$d\" ] && [ $i -lt 900 ]; do for c in /sys/class/nvme/nvme*; do"
                + " [ \"$(cat $c/serial 2>/dev/null | tr -d ' ')\" = " + serial + " ] && [ -b /dev/${c##*/}n1 ] && d=${c##*/}; done;"
                + " [ -z \"$d\" ] && sleep 0.2; i=$((i+1)); done; echo " + marker + "=$d:$(cat /sys/class/nvme/$d/serial | tr -d ' ')";
    }

    private static String driveState(UnixSocketClient client, String id) throws Exception {
        var config = client.sendRaw("GET", "/vm/config", null);
        assertEquals(200, config.status(), config.body());
        var drives = Json.mapper().readTree(config.body()).path("drives");
        for (var d : drives) if (d.path("drive_id").asText().equals(id)) return d.path("hotplug_state").asText("listed");
        return "gone";
    }

    private static boolean unlocked(Path image) throws Exception {
        try (FileChannel c = FileChannel.open(image, StandardOpenOption.WRITE); FileLock lock = c.tryLock()) {
            return lock != null;
        }
    }

    /**
     * A plain DELETE of a drive in a hot-pluggable slot: 202, the guest ejects it (acpiphp removes the device and runs
     * _EJ0), then the drive leaves the list with its image unlocked, and the guest's controller is gone, leaving
     * {@code left} NVMe controllers.
     */
    private static void detachThroughTheGuestsEject(UnixSocketClient client, FlintProcess flint, String id, Path image,
                                                    String controller, String marker, int left) throws Exception {
        var detach = client.sendRaw("DELETE", "/drives/" + id, null);
        assertEquals(202, detach.status(), detach.body());
        Await.until("the guest ejected " + id, STEP, () -> driveState(client, id).equals("gone"));
        assertTrue(unlocked(image), "the image of " + id + " is unlocked once the drive is gone");
        flint.type("i=0; while [ -e /sys/class/nvme/" + controller + " ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done;"
                + " echo " + marker + "=$(ls /sys/class/nvme | wc -l)x");
        flint.await(marker + "=" + left + "x", STEP);
    }

    @Test
    void volumesAreControllersOfTheirOwnHotPluggedAndEjected(@TempDir Path dir) throws Exception {
        GuestAssets assets = GuestAssets.open(GuestAssets.defaultCacheDir());
        assets.fetch(System.out);
        byte[] content = new byte[1 << 20];
        Arrays.fill(content, (byte) 'v');
        Path first = Files.write(dir.resolve("first.img"), content);
        Arrays.fill(content, (byte) 'l');
        Path launch = Files.write(dir.resolve("launch.img"), content);
        Path second = Files.write(dir.resolve("second.img"), new byte[1 << 20]);
        Path third = Files.write(dir.resolve("third.img"), new byte[1 << 20]);
        Path socket = dir.resolve("flint.sock");
        try (FlintProcess flint = FlintProcess.start("vmm", "--api-sock", socket.toString(), "--engine", "emu")) {
            Await.until("the API socket exists", Duration.ofMinutes(3), () -> Files.exists(socket));
            try (UnixSocketClient client = new UnixSocketClient(socket)) {
                ApiGuestBoot.putDefaultGuest(client, assets);
                // flint.hotplug=nvme, as flint cloud's instances boot: the init loads the nvme driver even without a
                // controller at boot (here the launch volume would have it loaded anyway).
                assertEquals(204, client.sendRaw("PUT", "/boot-source", "{\"kernel_image_path\": \"" + assets.kernel()
                        + "\", \"initrd_path\": \"" + assets.defaultInitrd() + "\", \"boot_args\": \"console=ttyS0 reboot=k panic=-1 "
                        + Initramfs.HOTPLUG_NVME + "\"}").status());
                // A volume attached at launch: in a hot-pluggable slot from boot, so it leaves through the guest's eject.
                assertEquals(204, client.sendRaw("PUT", "/drives/vol0launch", newController("vol0launch", launch)).status());
                var started = client.sendRaw("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");
                assertEquals(204, started.status(), started.body());
                assertEquals("attached", driveState(client, "vol0launch"));
                flint.await("Flint guest: busybox", Duration.ofMinutes(10));
                flint.await("# ", STEP);
                // acpiphp took the slots the DSDT describes (it registers them under /sys/bus/pci/slots): 1-31, the
                // launch volume's included. The Generic Event Device is bound to its driver (evged, "acpi-ged").
                flint.type("g=$(cd /sys/bus/platform/drivers/acpi-ged; ls -d ACPI0013:*); echo ged-bound=$(echo $g | wc -w)x"
                        + " slots=$(ls /sys/bus/pci/slots | wc -l)x");
                flint.await("ged-bound=1x slots=31x", STEP);
                flint.type(findBySerial("vol0launch", "launch"));
                flint.await("launch=nvme0:vol0launch", STEP);
                flint.type("echo launch-read=$(head -c 4 /dev/nvme0n1)");
                flint.await("launch-read=llll", STEP);
                assertSnapshotRefused(client, dir, "hot-pluggable PCI slots");

                // Hot-add: a controller whose serial is the drive id, reading the host's bytes and writing to the file.
                var added = client.sendRaw("PUT", "/drives/vol0first", newController("vol0first", first));
                assertEquals(204, added.status(), added.body());
                assertEquals("attached", driveState(client, "vol0first"));
                flint.type(findBySerial("vol0first", "first"));
                flint.await("first=nvme1:vol0first", STEP);
                flint.type("echo read=$(head -c 4 /dev/nvme1n1); printf hotplugged > /dev/nvme1n1; sync; echo written-$?");
                flint.await("read=vvvv", STEP);
                flint.await("written-0", STEP);
                Await.until("the guest's write reaches the file", STEP, () -> new String(Files.readAllBytes(first), 0, 10,
                        StandardCharsets.US_ASCII).equals("hotplugged"));
                assertTrue(!unlocked(first), "the VMM holds the image locked while attached");
                // A snapshot cannot rebuild a hot-plugged controller: refused with one line, nothing written.
                assertSnapshotRefused(client, dir, "hot-plugged while it ran");

                // Plain detach: 202, the guest ejects (acpiphp removes the device and runs _EJ0), then the drive is gone
                // and its file unlocked.
                detachThroughTheGuestsEject(client, flint, "vol0first", first, "nvme1", "after-eject", 1);
                // The launch volume leaves the same way: a plain DELETE waits for the guest's eject.
                detachThroughTheGuestsEject(client, flint, "vol0launch", launch, "nvme0", "after-launch-eject", 0);

                // A guest that does not answer: with the GED driver unbound, no event reaches acpiphp.
                assertEquals(204, client.sendRaw("PUT", "/drives/vol0second", newController("vol0second", second)).status());
                flint.type(findBySerial("vol0second", "second"));
                flint.await("second=nvme", STEP); // the shell keeps its name in $d
                flint.type("echo $g > /sys/bus/platform/drivers/acpi-ged/unbind;"
                        + " echo unbound=$(ls /sys/bus/platform/drivers/acpi-ged | grep -c ACPI)x");
                flint.await("unbound=0x", STEP);
                var plain = client.sendRaw("DELETE", "/drives/vol0second", null);
                assertEquals(202, plain.status(), plain.body());
                // An insertion the guest cannot hear of yet either: it waits in the hot-plug registers.
                assertEquals(204, client.sendRaw("PUT", "/drives/vol0third", newController("vol0third", third)).status());
                flint.type("sleep 3; echo still=$(ls /sys/class/nvme | wc -l)x");
                flint.await("still=1x", STEP);
                assertEquals("detaching", driveState(client, "vol0second"));
                assertTrue(!unlocked(second), "a detaching drive's file stays open");

                // Force, while the guest writes to the disk: removed at once, the VMM carries on.
                // The loop ends when the node goes: dd alone would create /dev/${d}n1 as a plain file once the node is
                // gone and go on writing it, and that file would then keep the third volume's node (which may take the
                // same name) from appearing.
                flint.type("(while [ -b /dev/${d}n1 ] && dd if=/dev/zero of=/dev/${d}n1 bs=64k count=16 conv=fsync 2>/dev/null; do :; done;"
                        + " echo io-stopped) & echo io-$((1+1))-started");
                flint.await("io-2-started", STEP);
                var forced = client.sendRaw("DELETE", "/drives/vol0second", "{\"force\": true}");
                assertEquals(204, forced.status(), forced.body());
                assertEquals("gone", driveState(client, "vol0second"));
                assertTrue(unlocked(second), "a forced removal closes the file before it answers");

                // The GED driver binds again: the events sent while it was away were kept (the line is level-triggered
                // and held up while they are unread), so the third volume appears without anything sent anew.
                flint.type("echo $g > /sys/bus/platform/drivers/acpi-ged/bind; echo rebound=$(ls /sys/bus/platform/drivers/acpi-ged"
                        + " | grep -c ACPI)x");
                flint.await("rebound=1x", STEP);
                flint.type(findBySerial("vol0third", "third"));
                flint.await("third=nvme", STEP);
                assertTrue(java.util.regex.Pattern.compile("third=nvme\\d+:vol0third").matcher(flint.output()).find(), flint.output());
                flint.type("echo alive-$((6*7))");
                flint.await("alive-42", STEP);
                assertTrue(flint.isAlive());
                flint.type("poweroff -f");
                assertEquals(0, flint.exitCode(STEP), flint.output());
            }
        }
    }

    /** A snapshot of the paused machine is refused with one line naming {@code why}, and writes nothing. */
    private static void assertSnapshotRefused(UnixSocketClient client, Path dir, String why) throws Exception {
        assertEquals(204, client.sendRaw("PATCH", "/vm", "{\"state\": \"Paused\"}").status());
        var snapshot = client.sendRaw("PUT", "/snapshot/create", "{\"snapshot_path\": \"" + dir.resolve("vm.state")
                + "\", \"mem_file_path\": \"" + dir.resolve("vm.mem") + "\"}");
        assertEquals(400, snapshot.status(), snapshot.body());
        assertTrue(snapshot.fault().contains(why), snapshot.body());
        assertTrue(!Files.exists(dir.resolve("vm.state")) && !Files.exists(dir.resolve("vm.mem")));
        assertEquals(204, client.sendRaw("PATCH", "/vm", "{\"state\": \"Resumed\"}").status());
    }
}
