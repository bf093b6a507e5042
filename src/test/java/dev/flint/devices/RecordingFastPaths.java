package dev.flint.devices;

import dev.flint.machine.InterruptRoutes;
import dev.flint.machine.IoFastPaths;
import dev.flint.machine.NotifyFastPath;
import dev.flint.sys.EventFd;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * An engine's I/O shortcuts as device tests see them: notify registrations and MSI routes are recorded,
 * and a test plays the engine's part (signalling a registered eventfd as KVM would on a guest write).
 */
public final class RecordingFastPaths implements NotifyFastPath, InterruptRoutes {
    public final class Diverted implements Registration {
        public final long address;
        public final int width;
        public final OptionalLong datamatch;
        public final EventFd eventfd;
        public volatile boolean open = true;

        Diverted(long address, int width, OptionalLong datamatch, EventFd eventfd) {
            this.address = address;
            this.width = width;
            this.datamatch = datamatch;
            this.eventfd = eventfd;
        }

        @Override
        public void close() { open = false; }
    }

    public final class Route implements MsiRoute {
        public final List<Msi> programs = new ArrayList<>();
        public int fired;
        public boolean closed;

        @Override
        public void program(long address, int data) {
            synchronized (RecordingFastPaths.this) {
                Msi m = new Msi(address, data);
                if (programs.isEmpty() || !programs.getLast().equals(m)) programs.add(m);
            }
        }

        @Override
        public void fire() {
            synchronized (RecordingFastPaths.this) {
                if (!closed && !programs.isEmpty()) fired++;
            }
        }

        @Override
        public void close() {
            synchronized (RecordingFastPaths.this) {
                closed = true;
            }
        }

        /** The message the route would deliver now. */
        public Msi current() {
            synchronized (RecordingFastPaths.this) {
                return programs.getLast();
            }
        }
    }

    public record Msi(long address, int data) {}

    public final List<Diverted> registrations = new ArrayList<>();
    public final List<Route> routes = new ArrayList<>();
    private final int routeCapacity;

    /** @param routeCapacity how many routes the fake engine hands out before it has none left */
    public RecordingFastPaths(int routeCapacity) { this.routeCapacity = routeCapacity; }

    public IoFastPaths both() { return new IoFastPaths(Optional.of(this), Optional.of(this)); }

    @Override
    public synchronized Registration signalOnWrite(long address, int width, OptionalLong datamatch, EventFd eventfd) {
        Diverted d = new Diverted(address, width, datamatch, eventfd);
        registrations.add(d);
        return d;
    }

    @Override
    public synchronized MsiRoute newMsiRoute() {
        if (routes.size() >= routeCapacity) return null;
        Route r = new Route();
        routes.add(r);
        return r;
    }

    /** The registrations still in force. */
    public synchronized List<Diverted> open() {
        return registrations.stream().filter(d -> d.open).toList();
    }

    public synchronized int fired() {
        return routes.stream().mapToInt(r -> r.fired).sum();
    }
}
