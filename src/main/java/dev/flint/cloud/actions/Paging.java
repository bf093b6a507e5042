package dev.flint.cloud.actions;

import dev.flint.cloud.ec2.Ec2Exception;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.function.Function;

/**
 * {@code MaxResults}/{@code NextToken} paging over a list sorted by id. The token is the last id of the page,
 * base64url-encoded: opaque to clients, and still right when records are added or removed between pages
 * (the next page starts after that id, wherever it now sits).
 */
public final class Paging {
    /** One page and the token for the next (null on the last page). */
    public record Page<T>(List<T> items, String nextToken) {}

    private Paging() {}

    public static <T> Page<T> page(List<T> sortedById, Function<T, String> id, Integer maxResults, String nextToken, int min, int max) {
        int start = 0;
        if (nextToken != null && !nextToken.isEmpty()) {
            String after = decode(nextToken);
            while (start < sortedById.size() && id.apply(sortedById.get(start)).compareTo(after) <= 0) start++;
        }
        if (maxResults == null) return new Page<>(sortedById.subList(start, sortedById.size()), null);
        if (maxResults < min || maxResults > max) {
            throw Ec2Exception.invalidParameter("Value (" + maxResults + ") for parameter maxResults is invalid. Expecting a value between "
                    + min + " and " + max + ".");
        }
        int end = Math.min(sortedById.size(), start + maxResults);
        List<T> items = sortedById.subList(start, end);
        String next = end < sortedById.size() && !items.isEmpty() ? encode(id.apply(items.getLast())) : null;
        return new Page<>(items, next);
    }

    static String encode(String id) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(("after:" + id).getBytes(StandardCharsets.UTF_8));
    }

    private static String decode(String token) {
        try {
            String text = new String(Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8);
            if (text.startsWith("after:")) return text.substring("after:".length());
        } catch (IllegalArgumentException e) {
            // fall through to the refusal
        }
        throw Ec2Exception.client("InvalidNextToken", "The token '" + token + "' is not a NextToken Flint gave out.");
    }
}
