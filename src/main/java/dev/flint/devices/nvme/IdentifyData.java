package dev.flint.devices.nvme;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Collection;

/**
 * The 4 KiB Identify data structures (NVMe 1.4, figures 247, 249 and 251): what the controller and its
 * namespaces say about themselves. Every capability bit set here is one the controller implements;
 * everything else reads 0 ("not supported").
 */
final class IdentifyData {
    static final int SIZE = 4096;
    /** PCI vendor and subsystem vendor the controller reports (also in its configuration space). */
    static final int PCI_VENDOR = 0x1B36;
    /** ONCS: Dataset Management (bit 2) and Write Zeroes (bit 3). */
    static final int ONCS = 1 << 2 | 1 << 3;
    static final int NAMESPACE_DESCRIPTOR_NGUID = 2, NAMESPACE_DESCRIPTOR_CSI = 4;

    private IdentifyData() {}

    static byte[] controller(NvmeIdentity id, int controllerId) {
        ByteBuffer b = buffer();
        b.putShort(0, (short) PCI_VENDOR);      // VID
        b.putShort(2, (short) PCI_VENDOR);      // SSVID
        ascii(b, 4, id.serial(), 20);           // SN
        ascii(b, 24, id.model(), 40);           // MN
        ascii(b, 64, id.firmware(), 8);         // FR
        b.put(77, (byte) NvmeSpec.MDTS);        // MDTS: 1 MiB per command
        b.putShort(78, (short) controllerId);   // CNTLID
        b.putInt(80, NvmeSpec.VERSION);         // VER
        b.putInt(92, NvmeSpec.AEN_NAMESPACE_ATTRIBUTE); // OAES: namespace attribute notices
        b.put(111, (byte) 1);                   // CNTRLTYPE: I/O controller
        b.putShort(256, (short) (1 << 8));      // OACS: Doorbell Buffer Config (shadow doorbells)
        b.put(258, (byte) 3);                   // ACL: 4 Abort commands (0-based)
        b.put(259, (byte) (NvmeSpec.AER_LIMIT - 1)); // AERL (0-based)
        b.put(260, (byte) 0x03);                // FRMW: one slot, slot 1 read-only
        b.put(262, (byte) 0);                   // ELPE: one error log entry (0-based)
        b.putShort(266, (short) 343);           // WCTEMP 70 C: required non-zero; a virtual disk never reaches it
        b.putShort(268, (short) 373);           // CCTEMP 100 C
        b.put(512, (byte) (NvmeSpec.SQ_ENTRY_LOG << 4 | NvmeSpec.SQ_ENTRY_LOG)); // SQES
        b.put(513, (byte) (NvmeSpec.CQ_ENTRY_LOG << 4 | NvmeSpec.CQ_ENTRY_LOG)); // CQES
        b.putInt(516, NvmeSpec.MAX_NAMESPACES); // NN
        b.putShort(520, (short) ONCS);          // ONCS
        b.put(525, (byte) 1);                   // VWC: a volatile write cache (the host's page cache); Flush makes it durable
        b.put(530, (byte) 1);                   // NVSCC: vendor-specific commands use the standard format
        byte[] nqn = ("nqn.2026-12.dev.flint:nvme:" + id.serial().strip()).getBytes(StandardCharsets.US_ASCII);
        b.put(768, nqn);                        // SUBNQN (NUL padded): one subsystem per controller
        b.putShort(2048, (short) 2500);         // power state 0: 25 W maximum (a nominal figure; NPSS = 0)
        return b.array();
    }

    static byte[] namespace(NvmeNamespace ns) {
        ByteBuffer b = buffer();
        b.putLong(0, ns.blocks());              // NSZE
        b.putLong(8, ns.blocks());              // NCAP
        b.putLong(16, ns.blocks());             // NUSE
        b.put(25, (byte) 0);                    // NLBAF: one format (0-based)
        b.put(26, (byte) 0);                    // FLBAS: format 0, no metadata
        b.put(99, (byte) (ns.readOnly() ? 1 : 0)); // NSATTR: write protected
        b.put(104, ns.nguid);                   // NGUID
        b.putInt(128, NvmeSpec.LBA_SHIFT << 16);  // LBAF0: 512-byte blocks, no metadata, best performance
        return b.array();
    }

    /** Active namespace IDs above {@code after}, ascending, at most 1024. */
    static byte[] activeNamespaces(Collection<Integer> ids, int after) {
        ByteBuffer b = buffer();
        int at = 0;
        for (int nsid : ids) {
            if (Integer.compareUnsigned(nsid, after) <= 0) continue;
            if (at == SIZE) break;
            b.putInt(at, nsid);
            at += 4;
        }
        return b.array();
    }

    /** The namespace identification descriptors: its NGUID and its command set (NVM). */
    static byte[] namespaceDescriptors(NvmeNamespace ns) {
        ByteBuffer b = buffer();
        b.put(0, (byte) NAMESPACE_DESCRIPTOR_NGUID);
        b.put(1, (byte) 16);
        b.put(4, ns.nguid);
        b.put(20, (byte) NAMESPACE_DESCRIPTOR_CSI);
        b.put(21, (byte) 1);
        b.put(24, (byte) 0);                    // CSI 0: the NVM command set
        return b.array();
    }

    /** Identify with CNS 6 for the NVM command set: no limits beyond MDTS (all fields 0). */
    static byte[] nvmCommandSetController() {
        return new byte[SIZE];
    }

    private static ByteBuffer buffer() {
        return ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** ASCII, space padded to {@code width} (Identify strings are not NUL terminated). */
    static void ascii(ByteBuffer b, int at, String s, int width) {
        byte[] bytes = s.getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i < width; i++) b.put(at + i, i < bytes.length ? bytes[i] : (byte) ' ');
    }
}
