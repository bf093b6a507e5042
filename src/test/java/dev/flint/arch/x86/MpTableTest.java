package dev.flint.arch.x86;

import dev.flint.machine.GuestMemory;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class MpTableTest {
    @Test
    void floatingPointerAndTableChecksumAndDescribeCpusAndIoApic() {
        try (GuestMemory m = GuestMemory.allocate(64L << 20)) {
            MpTable.write(m, 4, PlatformInfo.standard());
            byte[] fp = new byte[16];
            m.read(Layout.MP_TABLE, fp, 0, 16);
            assertEquals("_MP_", new String(fp, 0, 4, java.nio.charset.StandardCharsets.US_ASCII));
            assertEquals(0, ByteWriter.sum(fp, 0, 16));
            long table = m.readInt(Layout.MP_TABLE + 4) & 0xFFFF_FFFFL;
            int len = m.readShort(table + 4) & 0xFFFF;
            byte[] t = new byte[len];
            m.read(table, t, 0, len);
            assertEquals("PCMP", new String(t, 0, 4, java.nio.charset.StandardCharsets.US_ASCII));
            assertEquals(0, ByteWriter.sum(t, 0, len));
            int count = m.readShort(table + 34), cpus = 0, ioapics = 0, bsp = 0;
            int sizeSeen = 44;
            for (int i = 0; i < count; i++) {
                int type = t[sizeSeen];
                if (type == 0) {
                    cpus++;
                    if ((t[sizeSeen + 3] & 2) != 0) bsp++;
                }
                if (type == 2) {
                    ioapics++;
                    assertEquals(4, t[sizeSeen + 1], "I/O APIC ID after the CPUs");
                }
                sizeSeen += type == 0 ? 20 : 8;
            }
            assertEquals(len, sizeSeen, "entry count matches the table length");
            assertEquals(4, cpus);
            assertEquals(1, bsp);
            assertEquals(1, ioapics);
        }
    }
}
