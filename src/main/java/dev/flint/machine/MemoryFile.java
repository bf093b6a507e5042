package dev.flint.machine;

import dev.flint.sys.ErrnoException;
import dev.flint.sys.FileHoles;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A snapshot's memory file, in Firecracker's layout: guest RAM raw, the page at host offset N of
 * {@link GuestMemory#segment()} at file offset N, the file exactly as long as RAM.
 *
 * <ul>
 *   <li>A <b>Full</b> file holds every page; pages of zeros are left as holes, so an idle guest's file is small on disk.
 *   <li>A <b>Diff</b> file holds only the pages written since the previous snapshot (zero pages too, as data);
 *       every other page is a hole. {@link #rebase} copies its data onto the base file, which gives the full
 *       file of the later snapshot (Firecracker's {@code snapshot-editor edit-memory rebase}).
 * </ul>
 *
 * <p>As in Firecracker, an existing file of exactly RAM's size is written in place and never truncated:
 * it may be the very file this VM's RAM is mapped from (copy-on-write), whose truncation would turn the
 * guest's untouched pages into zeros; and a Diff written onto the base's file is merged as it is
 * written. A file of any other size is replaced.
 */
public final class MemoryFile {
    private static final int PAGE = DirtyPages.PAGE_SIZE;
    /** Consecutive pages go out in one write of at most this many pages. */
    private static final int RUN = 256;

    private MemoryFile() {}

    /** Writes all of {@code ram} to {@code file} (a Full snapshot's memory file). */
    public static void writeFull(MemorySegment ram, Path file) throws IOException {
        try (Target target = open(file, ram.byteSize())) {
            boolean fresh = target.fresh();
            FileChannel ch = target.file().getChannel();
            int pages = (int) (ram.byteSize() / PAGE);
            try (FileHoles holes = fresh ? null : FileHoles.open(file.toString())) {
                int p = 0;
                while (p < pages) {
                    boolean zero = isZero(ram, (long) p * PAGE);
                    int q = p + 1;
                    while (q < pages && q - p < RUN && isZero(ram, (long) q * PAGE) == zero) q++;
                    if (!zero) {
                        write(ch, ram, p, q - p);
                    } else if (holes != null) {
                        punchOrZero(holes, ch, p, q - p); // old data there must read as zeros
                    }
                    p = q;
                }
            } catch (ErrnoException e) {
                throw new IOException(e.getMessage(), e);
            }
            ch.force(false);
        }
    }

    /**
     * Writes the pages of {@code ram} that {@code dirty} marks to {@code file} (a Diff snapshot's memory
     * file) and returns how many. The marks are left as they are: the caller clears them once the whole
     * snapshot is written, so a failure loses nothing.
     */
    public static int writeDiff(MemorySegment ram, DirtyPages dirty, Path file) throws IOException {
        int written = 0;
        try (Target target = open(file, ram.byteSize())) {
            FileChannel ch = target.file().getChannel();
            int pages = (int) Math.min(dirty.pages(), ram.byteSize() / PAGE);
            int p = 0;
            while (p < pages) {
                if (!dirty.isDirty(p)) {
                    p++;
                    continue;
                }
                int q = p + 1;
                while (q < pages && q - p < RUN && dirty.isDirty(q)) q++;
                write(ch, ram, p, q - p);
                written += q - p;
                p = q;
            }
            ch.force(false);
        }
        return written;
    }

    /** A memory file open for writing; {@code fresh} if it was new or emptied, so all of it reads as holes. */
    private record Target(RandomAccessFile file, boolean fresh) implements AutoCloseable {
        @Override
        public void close() throws IOException { file.close(); }
    }

    /**
     * Opens {@code file} for writing without truncating it, and sizes it to {@code bytes}: a file of
     * another size (or a new one) is emptied first.
     */
    private static Target open(Path file, long bytes) throws IOException {
        RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw");
        try {
            if (raf.length() == bytes) return new Target(raf, false);
            raf.setLength(0);
            raf.setLength(bytes);
            return new Target(raf, true);
        } catch (IOException | RuntimeException e) {
            raf.close();
            throw e;
        }
    }

    /** Deallocates the pages; on a file system that cannot punch holes, writes zeros over them instead. */
    private static void punchOrZero(FileHoles holes, FileChannel ch, int page, int count) throws IOException {
        try {
            holes.punch((long) page * PAGE, (long) count * PAGE);
        } catch (ErrnoException e) {
            // In 256 KiB pieces: a run of zero pages can be most of guest RAM, and the VMM's heap is small.
            ByteBuffer zeros = ByteBuffer.allocate(1 << 18);
            for (long at = (long) page * PAGE, end = at + (long) count * PAGE; at < end; ) {
                zeros.clear().limit((int) Math.min(zeros.capacity(), end - at));
                while (zeros.hasRemaining()) at += ch.write(zeros, at);
            }
        }
    }

    private static void write(FileChannel ch, MemorySegment ram, int page, int count) throws IOException {
        long at = (long) page * PAGE;
        ByteBuffer b = ram.asSlice(at, (long) count * PAGE).asByteBuffer();
        while (b.hasRemaining()) ch.write(b, at + b.position());
    }

    private static boolean isZero(MemorySegment ram, long off) {
        for (long i = 0; i < PAGE; i += 8) {
            if (ram.get(ValueLayout.JAVA_LONG_UNALIGNED, off + i) != 0) return false;
        }
        return true;
    }

    /** What {@link #rebase} did: bytes of the diff's data copied onto the base, in how many extents. */
    public record Rebased(long bytes, int extents) {}

    /**
     * Copies every data range of the Diff memory file {@code diff} onto {@code base} at the same offset
     * (the ranges {@code lseek(SEEK_DATA/SEEK_HOLE)} finds; its holes leave the base as it is). Afterwards
     * {@code base} is the memory file of the snapshot {@code diff} was taken with. Both must be regular
     * files of the same size; anything else is a one-line {@link GuestMemoryFileException} and the base is
     * left untouched.
     */
    public static Rebased rebase(Path base, Path diff) throws IOException {
        for (Path f : new Path[] {base, diff}) {
            if (!Files.isRegularFile(f)) throw new GuestMemoryFileException(f + " is not a regular file");
        }
        if (Files.isSameFile(base, diff)) throw new GuestMemoryFileException(diff + " and " + base + " are the same file");
        long size = Files.size(base);
        long diffSize = Files.size(diff);
        if (diffSize != size) {
            throw new GuestMemoryFileException("the diff " + diff + " holds " + diffSize + " bytes but the base " + base + " holds "
                    + size + ": not memory files of the same guest");
        }
        if (size % PAGE != 0) throw new GuestMemoryFileException(base + " is not a memory file: " + size + " bytes is not whole pages");
        long copied = 0;
        int extents = 0;
        try (FileHoles holes = FileHoles.openReadOnly(diff.toString());
             FileChannel in = FileChannel.open(diff, StandardOpenOption.READ);
             FileChannel out = FileChannel.open(base, StandardOpenOption.WRITE)) {
            long pos = 0;
            while (pos < size) {
                long data = holes.nextData(pos);
                if (data < 0 || data >= size) break;
                long end = holes.nextHole(data);
                if (end < 0 || end > size) end = size;
                for (long at = data; at < end; ) {
                    long n = in.transferTo(at, end - at, out.position(at));
                    if (n <= 0) throw new IOException("copying " + diff + " at offset " + at + " made no progress");
                    at += n;
                }
                copied += end - data;
                extents++;
                pos = end;
            }
            out.force(false);
        } catch (ErrnoException e) {
            throw new IOException(diff + ": " + e.getMessage(), e);
        }
        return new Rebased(copied, extents);
    }
}
