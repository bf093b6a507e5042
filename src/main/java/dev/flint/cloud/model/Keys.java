package dev.flint.cloud.model;

/** Where each kind of record lives in the store (the key prefixes). */
public final class Keys {
    public static final String INSTANCE = "instance/";
    public static final String IMAGE = "image/";
    public static final String KEY_PAIR = "keypair/";
    public static final String RUN_TOKEN = "token/run/";
    public static final String VOLUME = "volume/";
    public static final String SNAPSHOT = "snapshot/";
    /** CreateVolume's ClientToken → the volume it made. */
    public static final String VOLUME_TOKEN = "token/volume/";
    public static final String SECURITY_GROUP = "securitygroup/";

    private Keys() {}
}
