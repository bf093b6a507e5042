package dev.flint.cloud.model;

/** EC2's instance states with their wire names and codes (the codes clients see in {@code instanceState/code}). */
public enum InstanceState {
    PENDING("pending", 0),
    RUNNING("running", 16),
    SHUTTING_DOWN("shutting-down", 32),
    TERMINATED("terminated", 48),
    STOPPING("stopping", 64),
    STOPPED("stopped", 80);

    private final String wireName;
    private final int code;

    InstanceState(String wireName, int code) {
        this.wireName = wireName;
        this.code = code;
    }

    public String wireName() { return wireName; }

    public int code() { return code; }

    /** Whether an instance in this state has (or is about to have) a VMM holding host memory. */
    public boolean holdsCapacity() {
        return this == PENDING || this == RUNNING || this == STOPPING || this == SHUTTING_DOWN;
    }

    /** Whether the instance still owns its private address (everything but terminated). */
    public boolean holdsAddress() {
        return this != TERMINATED;
    }
}
