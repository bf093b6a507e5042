package dev.flint.api;

/**
 * A request the API refuses, with the HTTP status and the one-line {@code fault_message} the client
 * gets. Thrown anywhere below the handler; the handler turns it into the answer and keeps serving.
 */
public final class ApiException extends RuntimeException {
    private final int status;

    public ApiException(int status, String faultMessage) {
        super(faultMessage, null, false, false);
        this.status = status;
    }

    /** A 400 Bad Request: what Firecracker answers for every refused request. */
    public static ApiException badRequest(String faultMessage) {
        return new ApiException(400, faultMessage);
    }

    /** A 400 for a part of Firecracker's API that Flint does not implement: said plainly, never a silent 204. */
    public static ApiException notSupported(String what) {
        return new ApiException(400, what + " is not supported by Flint");
    }

    public int status() { return status; }
}
