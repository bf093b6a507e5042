package dev.flint.devices.virtio.net;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class NetConfigTest {
    @Test
    void parsesTapAndOptionalMac() {
        assertEquals(new NetConfig("tap0", null), NetConfig.parse("tap=tap0"));
        NetConfig withMac = NetConfig.parse("tap=tap0,mac=06:00:AC:10:00:02");
        assertEquals("06:00:ac:10:00:02", withMac.mac().toString());
        assertEquals(NetConfig.parse("mac=06:00:ac:10:00:02,tap=tap0"), withMac, "any order");
    }

    @Test
    void refusesWhatTheKernelOrAnEthernetNicWouldNot() {
        assertMessage("TAP name 'sixteen-chars-xx' is too long: at most 15 bytes", "tap=sixteen-chars-xx");
        assertMessage("TAP name 'a/b' contains '/', which interface names cannot", "tap=a/b");
        assertMessage("TAP name 'tap%d' contains '%', which interface names cannot", "tap=tap%d");
        assertMessage("a TAP device needs a name: tap=NAME", "tap=");
        assertMessage("tap=NAME missing: mac=06:00:00:00:00:01", "mac=06:00:00:00:00:01");
        assertMessage("mac: 07:00:00:00:00:01 is a multicast address; a NIC needs a unicast one (even first byte)",
                "tap=t,mac=07:00:00:00:00:01");
        assertMessage("mac: '06:00:00:00:00' is not a MAC address like 06:00:ac:10:00:02", "tap=t,mac=06:00:00:00:00");
        assertMessage("unknown option 'mtu=9000' (expected tap=NAME[,mac=MAC][,rx-bandwidth=|rx-ops=|tx-bandwidth=|tx-ops="
                + "SIZE/MS[/BURST]]): tap=t,mtu=9000", "tap=t,mtu=9000");
        assertMessage("rx-ops=5: expected SIZE/REFILL_MS[/ONE_TIME_BURST]", "tap=t,rx-ops=5");
        assertThrows(IllegalArgumentException.class, () -> new NetConfig("t", null, 67));
    }

    @Test
    void rateLimitOptionsBecomeTheInterfacesBuckets() {
        NetConfig n = NetConfig.parse("tap=t,tx-bandwidth=125000/100,rx-ops=1000/1000/10");
        assertEquals(new dev.flint.devices.ratelimit.RateLimit(new dev.flint.devices.ratelimit.BucketConfig(125000, 0, 100), null),
                n.txRateLimit());
        assertEquals(new dev.flint.devices.ratelimit.RateLimit(null, new dev.flint.devices.ratelimit.BucketConfig(1000, 10, 1000)),
                n.rxRateLimit());
    }

    @Test
    void generatedMacsAreLocallyAdministeredUnicastAndDiffer() {
        MacAddress a = MacAddress.randomLocal(), b = MacAddress.randomLocal();
        assertEquals(0x02, a.bytes()[0] & 0x03, a.toString());
        assertNotEquals(a, b);
        assertEquals(a, MacAddress.parse(a.toString()));
    }

    private static void assertMessage(String message, String spec) {
        assertEquals(message, assertThrows(IllegalArgumentException.class, () -> NetConfig.parse(spec)).getMessage());
    }
}
