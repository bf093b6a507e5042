package dev.flint.api;

/** The microVM states of {@code GET /}, spelled as Firecracker reports them. */
public enum InstanceState {
    NOT_STARTED("Not started"),
    RUNNING("Running"),
    PAUSED("Paused");

    private final String wireName;

    InstanceState(String wireName) { this.wireName = wireName; }

    public String wireName() { return wireName; }
}
