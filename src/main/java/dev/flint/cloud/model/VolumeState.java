package dev.flint.cloud.model;

/** EC2's volume states, as the wire names them: creating → available ⇄ in-use → deleting → deleted. */
public enum VolumeState {
    CREATING("creating"),
    AVAILABLE("available"),
    IN_USE("in-use"),
    DELETING("deleting"),
    DELETED("deleted");

    private final String wireName;

    VolumeState(String wireName) {
        this.wireName = wireName;
    }

    public String wireName() { return wireName; }
}
