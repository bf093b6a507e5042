package dev.flint.cloud.ec2;

import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Properties;

/**
 * The one access key the daemon accepts. Made on first start from {@link SecureRandom} and kept in the data
 * folder as {@code credentials} (mode 0600, created with that mode so it is never readable by others, not
 * even for a moment); later starts and {@code flint cloud env} read it back.
 */
public record CloudCredentials(String accessKeyId, String secretAccessKey) {
    public static final String FILE_NAME = "credentials";
    private static final String KEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    private static final String SECRET_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    @Override
    public String toString() {
        return "CloudCredentials[" + accessKeyId + "]";
    }

    /** A fresh key in AWS's shape: an access key id of 20 upper-case characters, a 40-character secret. */
    public static CloudCredentials generate() {
        SecureRandom random = new SecureRandom();
        return new CloudCredentials("AKIA" + randomString(random, KEY_ALPHABET, 16), randomString(random, SECRET_ALPHABET, 40));
    }

    private static String randomString(SecureRandom random, String alphabet, int length) {
        StringBuilder out = new StringBuilder(length);
        for (int i = 0; i < length; i++) out.append(alphabet.charAt(random.nextInt(alphabet.length())));
        return out.toString();
    }

    /** Reads the data folder's credentials, making and storing them first if there are none. */
    public static CloudCredentials loadOrCreate(Path dataDir) throws IOException {
        Path file = dataDir.resolve(FILE_NAME);
        if (Files.exists(file)) return load(dataDir);
        Files.createDirectories(dataDir);
        CloudCredentials fresh = generate();
        Properties properties = new Properties();
        properties.setProperty("aws_access_key_id", fresh.accessKeyId());
        properties.setProperty("aws_secret_access_key", fresh.secretAccessKey());
        // Each creator writes its own temporary file: `serve` and `env` may both get here first.
        Path temp = Files.createTempFile(dataDir, FILE_NAME, ".new",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        try (Writer out = Files.newBufferedWriter(temp, StandardCharsets.UTF_8, StandardOpenOption.WRITE)) {
            properties.store(out, "flint cloud: the access key this daemon accepts (SigV4)");
        }
        try {
            // A link, not a rename: if another first start won the race, both use the winner's key.
            Files.createLink(file, temp);
        } catch (FileAlreadyExistsException raced) {
            // fall through to load the winner's
        } finally {
            Files.deleteIfExists(temp);
        }
        return load(dataDir);
    }

    /** Reads existing credentials; fails with one line if there are none or they are damaged. */
    public static CloudCredentials load(Path dataDir) throws IOException {
        Path file = dataDir.resolve(FILE_NAME);
        if (!Files.exists(file)) throw new IOException("no credentials in " + dataDir + " (run 'flint cloud serve' once first)");
        Properties properties = new Properties();
        try (Reader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            properties.load(in);
        }
        String key = properties.getProperty("aws_access_key_id");
        String secret = properties.getProperty("aws_secret_access_key");
        if (key == null || secret == null || key.isBlank() || secret.isBlank()) throw new IOException(file + " is damaged: no access key in it");
        return new CloudCredentials(key.strip(), secret.strip());
    }
}
