package dev.flint.cloud.ec2;

/**
 * A refusal in EC2's own terms: the error code clients switch on (e.g. {@code InvalidInstanceID.NotFound}),
 * a message for people, and the HTTP status EC2 answers it with. Handlers throw it; the HTTP layer turns it
 * into EC2's error XML.
 */
public final class Ec2Exception extends RuntimeException {
    private final String code;
    private final int status;

    public Ec2Exception(int status, String code, String message) {
        super(message, null, false, false);
        this.code = code;
        this.status = status;
    }

    public String code() { return code; }

    public int status() { return status; }

    /** A client error (HTTP 400) with EC2's code. */
    public static Ec2Exception client(String code, String message) {
        return new Ec2Exception(400, code, message);
    }

    public static Ec2Exception invalidParameter(String message) {
        return client("InvalidParameterValue", message);
    }

    public static Ec2Exception missingParameter(String name) {
        return client("MissingParameter", "The request must contain the parameter " + name);
    }

    public static Ec2Exception authFailure(String message) {
        return new Ec2Exception(401, "AuthFailure", message);
    }

    public static Ec2Exception dryRun() {
        return new Ec2Exception(412, "DryRunOperation", "Request would have succeeded, but DryRun flag is set.");
    }

    public static Ec2Exception internal(String message) {
        return new Ec2Exception(500, "InternalError", message);
    }
}
