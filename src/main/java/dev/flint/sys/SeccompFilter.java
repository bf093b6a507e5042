package dev.flint.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * A seccomp filter built with libseccomp (Debian's {@code libseccomp2}) through FFM: every system call is
 * allowed except those named, which fail with {@code EPERM}. libseccomp resolves the names to this
 * architecture's numbers and makes a filter that also kills any call made through another ABI (x32,
 * i386), so a denied call cannot be reached under a different number.
 *
 * <p>Why a deny list and not an allow list: the filter guards a JVM, whose set of system calls changes
 * with the JDK's version, garbage collector and JIT; an allow list would break Flint on the next JDK
 * update, while the calls that give a process more power than a VMM needs (exec, ptrace, mount, module
 * loading, namespaces, keyrings, BPF) are a short and stable list.
 *
 * <p>The filter either goes to a file as BPF (bubblewrap's {@code --seccomp FD} loads it for the process
 * it starts) or is loaded into this process, on every thread at once ({@code SECCOMP_FILTER_FLAG_TSYNC}),
 * so threads the JVM started earlier (GC, JIT, Jetty) are held by it too.
 */
public final class SeccompFilter {
    /** What a process in Flint's jail never needs, whatever it runs: the jailer's filter around the VMM. */
    public static final List<String> JAIL_DENIED = List.of(
            "ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
            "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount",
            "fspick", "mount_setattr",
            "unshare", "setns",
            "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
            "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
            "keyctl", "add_key", "request_key",
            "reboot", "swapon", "swapoff", "acct", "quotactl", "syslog", "settimeofday", "clock_settime",
            "clock_adjtime", "adjtimex", "sethostname", "setdomainname", "iopl", "ioperm",
            "open_by_handle_at", "name_to_handle_at", "lookup_dcookie", "fanotify_init", "personality", "uselib");

    /** The VMM's own filter, installed once it runs: the jail's list, and no more programs started. */
    public static final List<String> VMM_DENIED = concat(JAIL_DENIED, List.of("execve", "execveat"));

    private static final int SCMP_ACT_ALLOW = 0x7fff0000;
    private static final int SCMP_ACT_ERRNO = 0x00050000;
    private static final int EPERM = 1;
    /** {@code enum scmp_filter_attr}: SCMP_FLTATR_CTL_TSYNC. */
    private static final int ATTR_TSYNC = 4;

    private final List<String> denied;

    private SeccompFilter(List<String> denied) {
        this.denied = List.copyOf(denied);
    }

    /** A filter that allows everything but {@code denied}, which fail with EPERM. */
    public static SeccompFilter denying(List<String> denied) {
        return new SeccompFilter(denied);
    }

    public List<String> denied() { return denied; }

    /** Whether libseccomp can be loaded here (Debian's libseccomp2 installed). */
    public static boolean available() {
        try {
            Native.get();
            return true;
        } catch (UnsatisfiedLinkError | IllegalArgumentException e) {
            return false;
        }
    }

    /** Writes the filter as a BPF program (struct sock_filter[]) to {@code file}, replacing it. */
    public void exportBpf(Path file) {
        Native lib = Native.get();
        int fd = Libc.openForWrite(file.toString(), 0600);
        try {
            withContext(lib, false, ctx -> check("seccomp_export_bpf", (int) lib.exportBpf.invokeExact(ctx, fd)));
        } finally {
            Libc.close(fd);
        }
    }

    /** Loads the filter into this process, on all its threads; it cannot be removed again. */
    public void loadIntoThisProcess() {
        Native lib = Native.get();
        withContext(lib, true, ctx -> check("seccomp_load", (int) lib.load.invokeExact(ctx)));
    }

    @FunctionalInterface
    private interface ContextUse {
        void accept(MemorySegment ctx) throws Throwable;
    }

    private void withContext(Native lib, boolean tsync, ContextUse use) {
        MemorySegment ctx;
        try {
            ctx = (MemorySegment) lib.init.invokeExact(SCMP_ACT_ALLOW);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        if (ctx.address() == 0) throw new IllegalStateException("seccomp_init failed");
        try (Arena arena = Arena.ofConfined()) {
            if (tsync) check("seccomp_attr_set TSYNC", (int) lib.attrSet.invokeExact(ctx, ATTR_TSYNC, 1));
            for (String name : denied) {
                int nr = (int) lib.resolveName.invokeExact(arena.allocateFrom(name));
                if (nr == -1) continue; // a call this kernel ABI does not have cannot be made either
                check("seccomp_rule_add " + name, (int) lib.ruleAdd.invokeExact(ctx, SCMP_ACT_ERRNO | EPERM, nr, 0, MemorySegment.NULL));
            }
            use.accept(ctx);
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        } finally {
            try {
                lib.release.invokeExact(ctx);
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }
    }

    /** libseccomp returns a negated errno. */
    private static void check(String what, int result) {
        if (result < 0) throw new ErrnoException(what, -result);
    }

    private static List<String> concat(List<String> a, List<String> b) {
        var all = new java.util.ArrayList<>(a);
        all.addAll(b);
        return List.copyOf(all);
    }

    /** libseccomp's handles, looked up on first use only (the library is needed only when jailing). */
    private static final class Native {
        private static Native instance;

        final MethodHandle init, attrSet, resolveName, ruleAdd, exportBpf, load, release;

        private Native() {
            Linker linker = Linker.nativeLinker();
            SymbolLookup lib = SymbolLookup.libraryLookup("libseccomp.so.2", Arena.global());
            init = linker.downcallHandle(lib.findOrThrow("seccomp_init"), FunctionDescriptor.of(ADDRESS, JAVA_INT));
            attrSet = linker.downcallHandle(lib.findOrThrow("seccomp_attr_set"), FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
            resolveName = linker.downcallHandle(lib.findOrThrow("seccomp_syscall_resolve_name"), FunctionDescriptor.of(JAVA_INT, ADDRESS));
            ruleAdd = linker.downcallHandle(lib.findOrThrow("seccomp_rule_add_array"),
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
            exportBpf = linker.downcallHandle(lib.findOrThrow("seccomp_export_bpf"), FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
            load = linker.downcallHandle(lib.findOrThrow("seccomp_load"), FunctionDescriptor.of(JAVA_INT, ADDRESS));
            release = linker.downcallHandle(lib.findOrThrow("seccomp_release"), FunctionDescriptor.ofVoid(ADDRESS));
        }

        static synchronized Native get() {
            if (instance == null) instance = new Native();
            return instance;
        }
    }
}
