package dev.flint.cloud.actions;

import java.io.ByteArrayOutputStream;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.RSAPublicKeySpec;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;

/**
 * SSH key pairs as EC2 makes and fingerprints them, with the JDK's own crypto:
 * <ul>
 *   <li>created RSA (2048 bit): private key handed out as PKCS#1 PEM ({@code BEGIN RSA PRIVATE KEY}); the
 *       fingerprint is the SHA-1 of the PKCS#8 DER private key, colon-separated hex;</li>
 *   <li>imported RSA: the MD5 of the public key's DER (X.509 SubjectPublicKeyInfo), colon-separated hex
 *       (RFC 4716 section 4 style);</li>
 *   <li>ed25519 (created or imported): the base64 SHA-256 of the OpenSSH public key blob (OpenSSH's own
 *       fingerprint, with base64 padding kept); a created private key is handed out in OpenSSH's format
 *       ({@code BEGIN OPENSSH PRIVATE KEY}), which is what ssh reads for ed25519.</li>
 * </ul>
 */
final class SshKeys {
    /** A generated pair: what the client gets once, and what is kept. */
    record Generated(String privateKeyPem, String publicKeyLine, String fingerprint) {}

    /** A parsed OpenSSH public key line. */
    record Parsed(String type, String publicKeyLine, String fingerprint) {}

    private static final SecureRandom RANDOM = new SecureRandom();

    private SshKeys() {}

    static Generated generate(String type, String comment) {
        try {
            return switch (type) {
                case "rsa" -> rsa(comment);
                case "ed25519" -> ed25519(comment);
                default -> throw new IllegalArgumentException(type);
            };
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK cannot make " + type + " keys", e);
        }
    }

    private static Generated rsa(String comment) throws GeneralSecurityException {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
        generator.initialize(2048, RANDOM);
        KeyPair pair = generator.generateKeyPair();
        byte[] pkcs8 = pair.getPrivate().getEncoded();
        RSAPublicKey pub = (RSAPublicKey) pair.getPublic();
        byte[] blob = blob(w -> {
            w.string("ssh-rsa".getBytes(StandardCharsets.US_ASCII));
            w.mpint(pub.getPublicExponent());
            w.mpint(pub.getModulus());
        });
        return new Generated(pem("RSA PRIVATE KEY", pkcs1FromPkcs8(pkcs8)), line("ssh-rsa", blob, comment),
                colonHex(MessageDigest.getInstance("SHA-1").digest(pkcs8)));
    }

    private static Generated ed25519(String comment) throws GeneralSecurityException {
        KeyPair pair = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
        byte[] x509 = pair.getPublic().getEncoded();
        byte[] pub = Arrays.copyOfRange(x509, x509.length - 32, x509.length);
        byte[] pkcs8 = pair.getPrivate().getEncoded();
        byte[] seed = Arrays.copyOfRange(pkcs8, pkcs8.length - 32, pkcs8.length);
        byte[] publicBlob = blob(w -> {
            w.string("ssh-ed25519".getBytes(StandardCharsets.US_ASCII));
            w.string(pub);
        });
        int check = RANDOM.nextInt();
        byte[] secret = new byte[64];
        System.arraycopy(seed, 0, secret, 0, 32);
        System.arraycopy(pub, 0, secret, 32, 32);
        ByteArrayOutputStream privateSection = new ByteArrayOutputStream();
        Writer p = new Writer(privateSection);
        p.u32(check);
        p.u32(check);
        p.string("ssh-ed25519".getBytes(StandardCharsets.US_ASCII));
        p.string(pub);
        p.string(secret);
        p.string(comment.getBytes(StandardCharsets.UTF_8));
        for (int pad = 1; privateSection.size() % 8 != 0; pad++) privateSection.write(pad);
        byte[] file = blob(w -> {
            w.raw("openssh-key-v1\0".getBytes(StandardCharsets.US_ASCII));
            w.string("none".getBytes(StandardCharsets.US_ASCII));
            w.string("none".getBytes(StandardCharsets.US_ASCII));
            w.string(new byte[0]);
            w.u32(1);
            w.string(publicBlob);
            w.string(privateSection.toByteArray());
        });
        return new Generated(pem("OPENSSH PRIVATE KEY", file, 70), line("ssh-ed25519", publicBlob, comment), sha256Base64(publicBlob));
    }

    /** Parses {@code ssh-rsa AAAA... [comment]} or {@code ssh-ed25519 AAAA... [comment]}; null if it is neither. */
    static Parsed parsePublic(byte[] material) {
        String text = new String(material, StandardCharsets.UTF_8).strip();
        String[] parts = text.split("\\s+");
        if (parts.length < 2) return null;
        byte[] blob;
        try {
            blob = Base64.getDecoder().decode(parts[1]);
        } catch (IllegalArgumentException e) {
            return null;
        }
        try {
            ByteBuffer in = ByteBuffer.wrap(blob);
            String type = new String(readString(in), StandardCharsets.US_ASCII);
            if (!type.equals(parts[0])) return null;
            String line = parts[0] + " " + parts[1];
            if (type.equals("ssh-ed25519")) {
                if (readString(in).length != 32 || in.hasRemaining()) return null;
                return new Parsed("ed25519", line, sha256Base64(blob));
            }
            if (type.equals("ssh-rsa")) {
                BigInteger e = new BigInteger(readString(in));
                BigInteger n = new BigInteger(readString(in));
                if (in.hasRemaining() || n.signum() <= 0 || e.signum() <= 0 || n.bitLength() < 1024) return null;
                byte[] der = KeyFactory.getInstance("RSA").generatePublic(new RSAPublicKeySpec(n, e)).getEncoded();
                return new Parsed("rsa", line, colonHex(MessageDigest.getInstance("MD5").digest(der)));
            }
            return null;
        } catch (RuntimeException | GeneralSecurityException e) {
            return null;
        }
    }

    private static byte[] readString(ByteBuffer in) {
        int length = in.getInt();
        if (length < 0 || length > in.remaining()) throw new IllegalArgumentException("bad length");
        byte[] out = new byte[length];
        in.get(out);
        return out;
    }

    /** PKCS#8 PrivateKeyInfo is SEQUENCE { version, algorithm, OCTET STRING { RSAPrivateKey } }: take the inner one. */
    private static byte[] pkcs1FromPkcs8(byte[] der) {
        int[] pos = {0};
        expect(der, pos, 0x30);
        readLength(der, pos);
        expect(der, pos, 0x02);
        int versionLength = readLength(der, pos);
        pos[0] += versionLength;
        expect(der, pos, 0x30);
        int algorithmLength = readLength(der, pos);
        pos[0] += algorithmLength;
        expect(der, pos, 0x04);
        int length = readLength(der, pos);
        return Arrays.copyOfRange(der, pos[0], pos[0] + length);
    }

    private static void expect(byte[] der, int[] pos, int tag) {
        if ((der[pos[0]++] & 0xFF) != tag) throw new IllegalStateException("unexpected PKCS#8 layout from the JDK");
    }

    private static int readLength(byte[] der, int[] pos) {
        int first = der[pos[0]++] & 0xFF;
        if (first < 0x80) return first;
        int length = 0;
        for (int i = 0; i < (first & 0x7F); i++) length = (length << 8) | (der[pos[0]++] & 0xFF);
        return length;
    }

    private static String pem(String label, byte[] der) {
        return pem(label, der, 64);
    }

    private static String pem(String label, byte[] der, int width) {
        String body = Base64.getEncoder().encodeToString(der);
        StringBuilder out = new StringBuilder("-----BEGIN ").append(label).append("-----\n");
        for (int i = 0; i < body.length(); i += width) out.append(body, i, Math.min(body.length(), i + width)).append('\n');
        return out.append("-----END ").append(label).append("-----").toString();
    }

    private static String line(String type, byte[] blob, String comment) {
        return type + " " + Base64.getEncoder().encodeToString(blob) + (comment.isEmpty() ? "" : " " + comment);
    }

    static String colonHex(byte[] digest) {
        return HexFormat.ofDelimiter(":").formatHex(digest);
    }

    private static String sha256Base64(byte[] blob) {
        try {
            return Base64.getEncoder().encodeToString(MessageDigest.getInstance("SHA-256").digest(blob));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private interface BlobBody {
        void write(Writer w);
    }

    private static byte[] blob(BlobBody body) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        body.write(new Writer(out));
        return out.toByteArray();
    }

    /** SSH wire encoding (RFC 4251): uint32, string, mpint. */
    private record Writer(ByteArrayOutputStream out) {
        void u32(int v) {
            out.write(v >>> 24);
            out.write(v >>> 16);
            out.write(v >>> 8);
            out.write(v);
        }

        void raw(byte[] bytes) {
            out.writeBytes(bytes);
        }

        void string(byte[] bytes) {
            u32(bytes.length);
            out.writeBytes(bytes);
        }

        void mpint(BigInteger v) {
            string(v.toByteArray());
        }
    }
}
