package dev.flint.devices.legacy;

import dev.flint.devices.RecordingInterrupts;
import dev.flint.machine.bus.Bus;

import java.io.InputStream;
import java.io.OutputStream;

final class LegacyDevicesTestSupport {
    private LegacyDevicesTestSupport() {}

    static LegacyDevices withConsole(InputStream in) {
        return LegacyDevices.install(new Bus("io"), new Bus("mmio"), new RecordingInterrupts(), r -> { },
                in, OutputStream.nullOutputStream());
    }
}
