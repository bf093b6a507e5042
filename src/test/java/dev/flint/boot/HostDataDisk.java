package dev.flint.boot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Random;

/**
 * A disk image the host filled with reproducible random data, for a guest to read (typically attached
 * read-only): its SHA-256 is what the guest's {@code sha256sum /dev/vdX} must print.
 */
public record HostDataDisk(Path image, byte[] data, String sha256) {
    /** {@code bytes} of random data from {@code seed}, written to {@code image}. */
    public static HostDataDisk write(Path image, int bytes, long seed) throws IOException, GeneralSecurityException {
        byte[] data = new byte[bytes];
        new Random(seed).nextBytes(data);
        Files.write(image, data);
        return new HostDataDisk(image, data, sha256(data));
    }

    /** Lower-case hex SHA-256, as {@code sha256sum} prints it. */
    public static String sha256(byte[] bytes) throws GeneralSecurityException {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }

    /** The image still holds exactly what the host wrote (a read-only drive must stay untouched). */
    public void assertUntouched() throws IOException {
        assertArrayEquals(data, Files.readAllBytes(image), "a read-only drive must be left untouched");
    }
}
