package dev.flint.devices.nvme;

/**
 * The controller's feature values (Get/Set Features), back to their defaults on every controller reset.
 * Nothing is saveable. Owned by the I/O thread under the controller's lock.
 */
final class NvmeFeatures {
    private final int maxIoQueues;
    int arbitration, powerState, errorRecovery, coalescing, writeAtomicity, asyncEvents;
    /** Over- and under-temperature thresholds of the composite temperature, in kelvins. */
    int overTemperature, underTemperature;
    boolean writeCache;
    /** I/O submission and completion queues granted by Set Features (Number of Queues); 0 until asked. */
    int grantedSq, grantedCq;
    /** Interrupt Vector Configuration per vector: coalescing disabled (bit 16). */
    final int[] vectorConfig;

    NvmeFeatures(int maxIoQueues) {
        this.maxIoQueues = maxIoQueues;
        this.vectorConfig = new int[maxIoQueues + 1];
        reset();
    }

    void reset() {
        arbitration = powerState = errorRecovery = coalescing = writeAtomicity = asyncEvents = 0;
        overTemperature = 343; // WCTEMP
        underTemperature = 0;
        writeCache = true;
        grantedSq = grantedCq = maxIoQueues;
        for (int v = 0; v < vectorConfig.length; v++) vectorConfig[v] = v;
    }
}
