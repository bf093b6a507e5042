package dev.flint.api;

import dev.flint.api.model.Fault;

/**
 * Runs, on a second thread, the two class initializations that cost {@code flint vmm} most of its start-up
 * while the main thread parses the command line and builds the controller: Jackson's mapper (its default
 * date format walks the JDK's calendar and locale data) and Jetty's MIME table (it lists every locale the
 * JDK knows). Measured with a CPU profiler on the way to the socket, they were 17% and 23% of the main
 * thread's time; neither depends on the command line. The main thread needs them later (the controller's
 * MMDS store, the server), and the JVM makes it wait for an initialization in progress, so nothing changes
 * but when the work is done. A failure here is left for the main thread to meet and report on its path.
 */
public final class ApiPreload {
    private ApiPreload() {}

    /** Starts the preloading thread (a daemon: it never keeps the process alive) and returns at once. */
    public static void start() {
        Thread.ofPlatform().daemon().name("flint-preload").start(ApiPreload::run);
    }

    static void run() {
        try {
            // A record answer through the API's mapper: its class initialization and Jackson's record
            // introspection, which every answer shares.
            Json.write(new Fault("preload"));
            Class.forName("org.eclipse.jetty.http.MimeTypes", true, ApiPreload.class.getClassLoader());
        } catch (Throwable ignored) {
            // The main thread initializes the same classes and reports what fails there.
        }
    }
}
