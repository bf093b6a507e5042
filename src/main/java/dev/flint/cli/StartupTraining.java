package dev.flint.cli;

import dev.flint.vmm.Engines;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * The workload bin/flint records the JDK's ahead-of-time cache from ({@code -XX:AOTCacheOutput}, JEP
 * 483/514/515): what a start-up does, so that later starts find those classes already loaded and linked
 * and the hot methods' profiles ready. It prints usage, refuses a bad option, and serves the API of a
 * {@code flint vmm} on a temporary socket through the requests an orchestrator sends before a boot (and a
 * few a careless client sends). Nothing boots: an engine's classes are the engine's start-up, not the
 * socket's. Ends with {@code System.exit}, as a killed {@code flint vmm} would.
 *
 * <p>bin/flint makes four caches: {@code vmm} (the API alone) and {@code usage} (the top-level usage alone)
 * for flint-vmm.jar, which {@code flint vmm} and {@code flint --help} run from, {@code run} for {@code flint
 * run}, and {@code cli} (usage) for every other command; each mapped class costs start-up time whether it is
 * used or not. {@code run} also boots a tiny guest on the emu engine ({@link #TRAINING_KERNEL}): on a host
 * without KVM a {@code flint run} spends its first second setting up the machine and the software CPU, whose
 * classes (the VMM, devices, loaders, the decoder and interpreter, the block compiler and the JDK's class-file
 * library under it) then come from the cache instead of being loaded and verified on the boot's critical path.
 * With no argument it does all of it but that boot.
 */
public final class StartupTraining {
    private StartupTraining() {}

    /** The requests sent, raw, each on its own connection (as curl does). */
    private static final List<String> REQUESTS = List.of(
            get("/"), get("/version"), get("/machine-config"), get("/vm/config"),
            put("/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 128}"),
            patch("/machine-config", "{\"vcpu_count\": 2}"),
            put("/boot-source", "{\"kernel_image_path\": \"/nonexistent/vmlinuz\", \"boot_args\": \"console=ttyS0\"}"),
            put("/drives/rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/nonexistent\", \"is_root_device\": true, \"is_read_only\": false}"),
            put("/network-interfaces/eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap-none\", \"guest_mac\": \"06:00:00:00:00:01\"}"),
            put("/mmds/config", "{\"version\": \"V2\", \"network_interfaces\": [\"eth0\"]}"),
            put("/mmds", "{\"latest\": {\"meta-data\": {\"instance-id\": \"i-1\"}}}"),
            get("/mmds"),
            put("/actions", "{\"action_type\": \"FlushMetrics\"}"),
            put("/machine-config", "{\"vcpu_count\": \"one\"}"),
            put("/machine-config", "{not json"),
            get("/no/such/path"),
            "PUT // HTTP/1.1\r\nHost: localhost\r\n\r\n",
            "GARBAGE\r\n\r\n",
            get("/"));

    public static void main(String[] args) throws Exception {
        Path dir = Files.createTempDirectory("flint-aot-training");
        try {
            String only = args.length > 0 ? args[0] : "";
            train(dir, only);
        } finally {
            try (Stream<Path> files = Files.walk(dir)) {
                for (Path p : files.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
            }
        }
        System.exit(0);
    }

    /**
     * @param only {@code usage}: print the top-level usage; {@code cli}: that, and a command's usage and a
     *             refused option (what every command line does first); {@code vmm}: serve the API of a
     *             {@code flint vmm}; anything else: all of it
     */
    private static void train(Path dir, String only) throws Exception {
        PrintStream sink = new PrintStream(OutputStream.nullOutputStream(), true);
        // No engines: nothing boots here, and the API's pre-boot requests must not warm one up (Vmm.warmUp) on a
        // host with a usable KVM, or the cache would hold that engine's classes on some hosts and not others.
        CliContext context = new CliContext(InputStream.nullInputStream(), sink, sink, () -> false, new Engines(List.of()),
                dir.resolve("cache"));
        if (!only.equals("vmm")) Main.run(new String[] {"--help"}, context);
        if (only.equals("usage")) return;
        if (!only.equals("vmm")) {
            Main.run(new String[] {"vmm", "--help"}, context);
            Main.run(new String[] {"run", "--help"}, context);
            Main.run(new String[] {"run", "--no-such-option"}, context);
        }

        if (only.equals("cli")) return;
        if (only.equals("run")) {
            trainRun(dir, sink);
            return;
        }
        Path socket = dir.resolve("api.sock");
        Thread.ofPlatform().daemon().name("training-vmm")
                .start(() -> Main.run(new String[] {"vmm", "--api-sock", socket.toString()}, context));
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (!answers(socket)) {
            if (System.nanoTime() > deadline) throw new IOException("the training VMM never answered on " + socket);
            Thread.sleep(5);
        }
        for (int round = 0; round < 3; round++) {
            for (String request : REQUESTS) exchange(socket, request);
        }
    }

    /**
     * A Multiboot kernel (flat binary, a.out-kludge header, loaded at 1 MiB), 246 bytes: it builds page tables
     * for the first 2 MiB, enters 64-bit long mode, prints "." on the serial port, runs a loop 300,000 times (a
     * call, push, pop, a load, a store, IMUL: the loop's blocks reach the compile threshold and compile as a
     * region, as a booting kernel's do) and ends through isa-debug-exit at port 0xf4 with value 0x10 (Flint
     * exits with status 33). About 3.3 M guest instructions. Written for this in GNU as and assembled once; the
     * comments give the source's shape.
     */
    static final String TRAINING_KERNEL =
            // Multiboot header: magic, flags (bit 16: the addresses follow), checksum, header/load address
            // 1 MiB, load end and bss end 0 (the whole file, no bss), entry 1 MiB + 0x20.
            "02b0ad1b00000100fe4f51e40000100000001000000000000000000020001000"
            // 32-bit: zero three tables at 1 MiB + 4 KiB (rep stosl), PML4[0] -> PDPT -> PD, PD[0] = a 2 MiB
            // page at 0; CR4.PAE, CR3, EFER.LME (rdmsr/wrmsr), lgdt, CR0.PG|PE, ljmp 0x08 into 64-bit code.
            + "bf00301000bb0010100031c089dfb9000c0000f3ab8d830310000089038d8303200000898300100000c78300200000"
            + "830000000f20e083c8200f22e00f22dbb9800000c00f320d000100000f300f0115f00010000f20c00d010000800f22"
            + "c0ea860010000800"
            // 64-bit: DS/SS = 0x10, RSP = 1 MiB + 0x5000, out '.' to 0x3f8, ECX = 300,000;
            // loop: call f; add rax, rbx; mov [1 MiB + 0x4000], rbx; dec ecx; jnz loop;
            // out 0x10 to 0xf4; hlt; jmp back to the hlt.
            + "b8100000008ed88ed048c7c400501000baf8030000b02eeeb9e0930400e81d0000004801c348891c2500401000ffc9"
            + "75ecbaf4000000b810000000eef4ebfd"
            // f: push rbx; mov rax, [1 MiB + 0x4000]; imul rax, rax, 31; xor rax, rcx; pop rbx; ret.
            + "53488b042500401000486bc01f4831c85bc3"
            // GDT (null, 64-bit code 0x08, data 0x10) and its pointer.
            + "900000000000000000ffff0000009aaf00ffff00000092cf001700d8001000";

    /** The exit status of a {@code flint run --debug-exit} whose guest wrote 0x10 there, as the training kernel does. */
    static final int TRAINING_KERNEL_EXIT = (0x10 << 1) | 1;

    /**
     * What {@code flint run} does first (its usage, a refused option), then a boot of {@link #TRAINING_KERNEL}
     * on the emu engine. The engines are the emu engine alone, so the cache holds the same classes on every
     * host, with or without KVM. A boot that ends otherwise than through the kernel's exit fails the training
     * (bin/flint then runs without a cache and says why in its log).
     */
    private static void trainRun(Path dir, PrintStream sink) throws IOException {
        CliContext context = new CliContext(InputStream.nullInputStream(), sink, sink, () -> false,
                new Engines(List.of(dev.flint.engine.emu.EmuEngine::standard)), dir.resolve("cache"));
        Main.run(new String[] {"--help"}, context);
        Main.run(new String[] {"run", "--help"}, context);
        Main.run(new String[] {"run", "--no-such-option"}, context);
        Path kernel = Files.write(dir.resolve("training-kernel.bin"), java.util.HexFormat.of().parseHex(TRAINING_KERNEL));
        int status = Main.run(new String[] {"run", "--engine", "emu", "--memory", "64", "--kernel", kernel.toString(),
                "--debug-exit", "0xf4"}, context);
        if (status != TRAINING_KERNEL_EXIT) {
            throw new IOException("the training boot ended with status " + status + ", not " + TRAINING_KERNEL_EXIT);
        }
    }

    private static boolean answers(Path socket) {
        if (!Files.exists(socket)) return false;
        try {
            return exchange(socket, get("/")).startsWith("HTTP/1.1 200");
        } catch (IOException notYet) {
            return false;
        }
    }

    /** Sends one request and reads until the server closes or a whole answer came (bounded either way). */
    private static String exchange(Path socket, String request) throws IOException {
        try (SocketChannel channel = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            channel.write(ByteBuffer.wrap(request.getBytes(StandardCharsets.UTF_8)));
            channel.shutdownOutput();
            ByteBuffer answer = ByteBuffer.allocate(65536);
            while (answer.hasRemaining() && channel.read(answer) > 0) {
                // read until the server closes the connection
            }
            return new String(answer.array(), 0, answer.position(), StandardCharsets.UTF_8);
        }
    }

    private static String get(String path) {
        return "GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    }

    private static String put(String path, String body) { return withBody("PUT", path, body); }

    private static String patch(String path, String body) { return withBody("PATCH", path, body); }

    private static String withBody(String method, String path, String body) {
        return method + " " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\n"
                + "Content-Length: " + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body;
    }
}
