package dev.flint.devices;

import dev.flint.machine.InterruptController;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** An interrupt controller for device tests: remembers line levels, counts rising edges, records MSIs. */
public final class RecordingInterrupts implements InterruptController {
    public record Msi(long address, int data) {}

    private final Map<Integer, Boolean> levels = new HashMap<>();
    private final Map<Integer, Integer> rises = new HashMap<>();
    public final List<Msi> msis = new ArrayList<>();

    @Override
    public synchronized void setLevel(int gsi, boolean high) {
        if (high && !level(gsi)) rises.merge(gsi, 1, Integer::sum);
        levels.put(gsi, high);
    }

    @Override
    public synchronized void sendMsi(long address, int data) {
        msis.add(new Msi(address, data));
    }

    public synchronized boolean level(int gsi) { return levels.getOrDefault(gsi, false); }

    public synchronized int rises(int gsi) { return rises.getOrDefault(gsi, 0); }
}
