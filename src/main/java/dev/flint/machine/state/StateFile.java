package dev.flint.machine.state;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The snapshot state file: everything of a paused machine but its RAM (which goes to the memory file).
 *
 * <pre>
 *   "FLINTVMS"            8 bytes, magic
 *   format version        u32 ({@link #FORMAT_VERSION})
 *   body length           u64
 *   body                  engine name (UTF), section count (u32), then per section: name (UTF), length (u32), bytes
 *   SHA-256               32 bytes over everything before it
 * </pre>
 *
 * <p>Loading refuses, each with one line: a file that is not a state file, another format version, a
 * truncated or corrupted one (the digest), and one taken on another engine (a kvm vCPU's state means
 * nothing to emu, and back).
 */
public final class StateFile {
    public static final int FORMAT_VERSION = 1;
    private static final byte[] MAGIC = "FLINTVMS".getBytes(StandardCharsets.US_ASCII);
    private static final int HEADER = MAGIC.length + 4 + 8;
    private static final int DIGEST = 32;
    /** Larger than any machine's device state; a body length beyond it is a corrupted header. */
    private static final long MAX_BODY = 256L << 20;

    private StateFile() {}

    /** Writes the state atomically: a reader never sees a half-written file under {@code path}. */
    public static void write(Path path, String engine, StateWriter state) {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(body)) {
            out.writeUTF(engine);
            Map<String, byte[]> sections = state.sections();
            out.writeInt(sections.size());
            for (var e : sections.entrySet()) {
                out.writeUTF(e.getKey());
                out.writeInt(e.getValue().length);
                out.write(e.getValue());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        byte[] b = body.toByteArray();
        ByteBuffer file = ByteBuffer.allocate(HEADER + b.length + DIGEST);
        file.put(MAGIC).putInt(FORMAT_VERSION).putLong(b.length).put(b);
        file.put(sha256(file.array(), HEADER + b.length));
        Path tmp = path.resolveSibling(path.getFileName() + ".tmp");
        try {
            Files.write(tmp, file.array());
            Files.move(tmp, path, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // the first failure is the one to report
            }
            throw new SnapshotException("cannot write snapshot " + path + ": " + e.getMessage(), e);
        }
    }

    /** Reads and checks a state file taken on {@code engine}; any refusal is a one-line {@link SnapshotException}. */
    public static StateReader read(Path path, String engine) {
        byte[] all;
        try {
            if (Files.size(path) > HEADER + MAX_BODY + DIGEST) throw new SnapshotException(path + " is not a Flint snapshot state file (too large)");
            all = Files.readAllBytes(path);
        } catch (IOException e) {
            throw new SnapshotException("cannot read snapshot " + path + ": " + e.getMessage(), e);
        }
        ByteBuffer in = ByteBuffer.wrap(all);
        if (all.length < MAGIC.length || !Arrays.equals(all, 0, MAGIC.length, MAGIC, 0, MAGIC.length)) {
            throw new SnapshotException(path + " is not a Flint snapshot state file");
        }
        if (all.length < HEADER) throw new SnapshotException(path + " is truncated (" + all.length + " bytes)");
        in.position(MAGIC.length);
        int version = in.getInt();
        if (version != FORMAT_VERSION) {
            throw new SnapshotException(path + " has snapshot format version " + Integer.toUnsignedString(version)
                    + "; this Flint reads version " + FORMAT_VERSION);
        }
        long bodyLength = in.getLong();
        if (bodyLength < 0 || bodyLength > MAX_BODY) throw new SnapshotException(path + " is corrupted (bad length in its header)");
        long expected = HEADER + bodyLength + DIGEST;
        if (all.length < expected) {
            throw new SnapshotException(path + " is truncated (" + all.length + " of " + expected + " bytes)");
        }
        if (all.length > expected || !Arrays.equals(sha256(all, (int) (HEADER + bodyLength)), 0, DIGEST,
                all, (int) (HEADER + bodyLength), (int) expected)) {
            throw new SnapshotException(path + " is corrupted (its SHA-256 does not match its content)");
        }
        // The digest matched: from here on a malformed body is a writer bug, still reported as a line.
        try {
            ByteBuffer body = ByteBuffer.wrap(all, HEADER, (int) bodyLength).slice();
            String taken = utf(body);
            if (!taken.equals(engine)) {
                throw new SnapshotException(path + " was taken on the " + taken + " engine; this VMM runs the " + engine
                        + " engine");
            }
            int count = body.getInt();
            Map<String, byte[]> sections = new LinkedHashMap<>();
            for (int i = 0; i < count; i++) {
                String name = utf(body);
                byte[] b = new byte[body.getInt()];
                body.get(b);
                sections.put(name, b);
            }
            return new StateReader(sections);
        } catch (RuntimeException e) {
            if (e instanceof SnapshotException s) throw s;
            throw new SnapshotException(path + " is corrupted (malformed body)", e);
        }
    }

    private static String utf(ByteBuffer b) {
        byte[] s = new byte[Short.toUnsignedInt(b.getShort())];
        b.get(s);
        return new String(s, StandardCharsets.UTF_8);
    }

    private static byte[] sha256(byte[] b, int length) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update(b, 0, length);
            return md.digest();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }
}
