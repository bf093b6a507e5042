package dev.flint.nested;

import dev.flint.arch.x86.UnpackedKernelCache;
import dev.flint.guest.Initramfs;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Stock-kernel boots under a real KVM, nested in QEMU TCG (see {@link NestedKvm}). Slow (tens of
 * seconds per L1 boot), so tagged; it is still part of the default suite.
 */
@Tag("nested")
class NestedKvmTest {
    static final String MARKER = "FLINT-NESTED-MARKER";
    static NestedKvm l1;
    static Path markerInitrd;
    /** A guest cache ($FLINT_CACHE) with the stock kernel unpacked ahead. */
    static Path unpackedCache;

    @BeforeAll
    static void prepare() throws Exception {
        Path work = Path.of("target", "nested").toAbsolutePath();
        l1 = NestedKvm.prepare(work);
        markerInitrd = work.resolve("marker.cpio.gz");
        Initramfs.marker(MARKER, l1.assets().busybox()).write(markerInitrd);
        // A guest cache holding the kernel unpacked and noted, as `flint guest fetch` leaves it.
        unpackedCache = work.resolve("cache");
        UnpackedKernelCache.useDirectory(unpackedCache.resolve("unpacked"));
        try {
            UnpackedKernelCache.unpackAhead(l1.assets().kernel());
        } finally {
            UnpackedKernelCache.useDirectory(null);
        }
    }

    /**
     * The cmdline of the single boots below: the default one and {@code quiet}. Under nested KVM in TCG every byte
     * the guest prints on its UART is a few exits to the VMM in L1; the checks need only init's lines and Flint's
     * own, and the ~24 KB of kernel log cost a boot about half of its CPU time there (docs/testing.md).
     */
    static final String QUIET = "console=ttyS0 reboot=k panic=-1 quiet";

    /** The single boots' outputs by name, made on first use (see {@link #singleBoot}). */
    private static Map<String, NestedKvm.Result> singleBoots;
    /** Why the shared L1 boot failed, kept so the other tests report it instead of booting L1 again. */
    private static Throwable singleBootsFailed;

    /**
     * One single boot's result. The three boots (QEMU's, Flint's at one and two vCPUs) share one L1 boot, which
     * costs tens of seconds under TCG; each test still asserts on its own part only, so a failure names its check.
     */
    static synchronized NestedKvm.Result singleBoot(String name) throws Exception {
        if (singleBootsFailed != null) throw new AssertionError("the shared L1 boot failed", singleBootsFailed);
        if (singleBoots == null) {
            var commands = new LinkedHashMap<String, String>();
            commands.put("qemu", """
                    qemu-system-x86_64 -accel kvm -M microvm -m 256 -nodefaults -display none -serial stdio \\
                      -monitor none -no-reboot -kernel %s -initrd %s -append "console=ttyS0 quiet panic=-1" </dev/null
                    """.formatted(l1.assets().kernel(), markerInitrd));
            for (int cpus : new int[] {1, 2}) commands.put("flint-cpus-" + cpus, flintRun(cpus));
            try {
                singleBoots = l1.runEach(commands, Duration.ofMinutes(21));
            } catch (Exception | AssertionError e) {
                singleBootsFailed = e;
                throw e;
            }
        }
        NestedKvm.Result r = singleBoots.get(name);
        if (r == null) {
            throw new AssertionError(name + " did not report back from L1; its console:\n"
                    + singleBoots.values().stream().findFirst().map(NestedKvm.Result::console).orElse("(no part reported)"));
        }
        return r;
    }

    private static String flintRun(int cpus) {
        // With two vCPUs the kernel is entered as the vmlinux unpacked ahead; with one, the bzImage decompresses
        // itself (L1's own HOME has no cache).
        boolean unpacked = cpus == 2;
        return String.join(" ", unpacked ? "FLINT_CACHE=" + unpackedCache : "", NestedKvm.javaInL1(), "dev.flint.cli.Main",
                unpacked ? "--debug" : "", "run", "--engine", "kvm", "--boot-timer",
                "--kernel", l1.assets().kernel().toString(), "--initrd", markerInitrd.toString(),
                "--cmdline", "'" + QUIET + "'", "--cpus", Integer.toString(cpus), "</dev/null");
    }

    @Test
    void qemuWithKvmBootsTheStockKernelInsideL1() throws Exception {
        var r = singleBoot("qemu");
        assertTrue(r.output().contains(MARKER), r.console());
        assertTrue(r.output().contains("cpus=1"), r.console());
        assertEquals(0, r.exitStatus(), r.console());
    }

    @ParameterizedTest(name = "--cpus {0}")
    @ValueSource(ints = {1, 2})
    void flintKvmBootsTheStockKernelToTheMarker(int cpus) throws Exception {
        var r = singleBoot("flint-cpus-" + cpus);
        assertTrue(r.output().contains(MARKER), r.console());
        assertTrue(r.output().contains("cpus=" + cpus), r.console());
        assertTrue(r.output().contains("Guest-boot-time = "), "the boot timer's MMIO exit must reach Flint\n" + r.console());
        if (cpus == 2) assertTrue(r.output().contains("kernel entered as ELF"), r.console());
        assertEquals(0, r.exitStatus(), r.console());
    }

    @Test
    void kvmEngineAndGuestTestsAllPassUnderAStockKvm() throws Exception {
        // The same tests that run against the host's PVM, now against kvm_amd, plus the stock-guest tests
        // PVM cannot run (virtio disks, a root image and the network, over ioeventfd/irqfd through the CLI and
        // the API), in one L1 boot since each costs tens of seconds: nothing may be skipped (triple faults,
        // for one, only happen there).
        // -Dflint.nested.checks=CLASS[#METHOD],... runs only those inside L1 (one check takes minutes, not twenty).
        String only = System.getProperty("flint.nested.checks", "").trim();
        String checks = only.isEmpty() ? "dev.flint.engine.kvm.KvmEngineTest dev.flint.nested.KvmGuestTest" : only.replace(',', ' ');
        long t0 = System.nanoTime();
        // The checks take the stock kernel and busybox from this run's guest cache ($FLINT_CACHE, or the default under
        // HOME), bound read-only into L1: L1's own HOME has none, and its read-only / would refuse a download there.
        var r = l1.run("FLINT_CACHE=" + l1.assets().cacheDir() + " " + NestedKvm.javaInL1() + " " + RunTestsInL1.class.getName()
                + " " + checks, Duration.ofMinutes(30));
        System.err.printf("%s inside L1 (%d s with L1's boot):%n%s%n", checks,
                (System.nanoTime() - t0) / 1_000_000_000L, r.output());
        if (only.isEmpty()) {
            assertTrue(r.output().contains("kvm engine on this host: usable"), r.console());
            for (String seen : List.of("kvm virtio block paths: ", "kvm virtio net paths: ", "kvm virtio-net frames: ")) {
                assertTrue(r.output().contains(seen), seen + "\n" + r.console());
            }
        }
        assertEquals(0, r.exitStatus(), r.console());
    }
}
