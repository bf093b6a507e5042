package dev.flint.cloud.actions;

import dev.flint.cloud.ec2.Ec2Exception;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import software.amazon.awssdk.services.ec2.model.Filter;

/**
 * EC2's {@code Filter.N}: the values of one filter are OR'd, separate filters AND'd; values may hold
 * {@code *} (any run of characters) and {@code ?} (one character). Besides a resource's own attributes every
 * taggable resource answers {@code tag:KEY}, {@code tag-key} and {@code tag-value}. An unknown filter name
 * is refused, as EC2 does, rather than silently matching everything.
 */
public final class Filters<T> {
    private final Map<String, Function<T, Collection<String>>> attributes;
    private final Function<T, Map<String, String>> tags;

    /** {@code tags} may be null for resources without tags. */
    public Filters(Map<String, Function<T, Collection<String>>> attributes, Function<T, Map<String, String>> tags) {
        this.attributes = attributes;
        this.tags = tags;
    }

    public List<T> apply(List<Filter> filters, List<T> items) {
        if (filters == null || filters.isEmpty()) return items;
        List<Function<T, Collection<String>>> getters = new ArrayList<>();
        for (Filter f : filters) getters.add(getter(f.name()));
        List<T> out = new ArrayList<>();
        for (T item : items) {
            boolean all = true;
            for (int i = 0; i < filters.size() && all; i++) {
                all = matchesAny(getters.get(i).apply(item), filters.get(i).values());
            }
            if (all) out.add(item);
        }
        return out;
    }

    private Function<T, Collection<String>> getter(String name) {
        if (name == null || name.isEmpty()) throw Ec2Exception.missingParameter("Filter.N.Name");
        Function<T, Collection<String>> attribute = attributes.get(name);
        if (attribute != null) return attribute;
        if (tags != null) {
            if (name.startsWith("tag:")) {
                String key = name.substring(4);
                return item -> {
                    String value = tags.apply(item).get(key);
                    return value == null ? List.of() : List.of(value);
                };
            }
            if (name.equals("tag-key")) return item -> tags.apply(item).keySet();
            if (name.equals("tag-value")) return item -> tags.apply(item).values();
        }
        throw Ec2Exception.invalidParameter("The filter '" + name + "' is invalid");
    }

    private static boolean matchesAny(Collection<String> actual, List<String> patterns) {
        if (patterns == null || patterns.isEmpty()) return false;
        for (String value : actual) {
            if (value == null) continue;
            for (String pattern : patterns) {
                if (pattern != null && wildcard(pattern, value)) return true;
            }
        }
        return false;
    }

    /** {@code *} and {@code ?} wildcard match, iterative (no regex, so no pathological backtracking). */
    static boolean wildcard(String pattern, String value) {
        int p = 0;
        int v = 0;
        int star = -1;
        int mark = 0;
        while (v < value.length()) {
            if (p < pattern.length() && (pattern.charAt(p) == '?' || pattern.charAt(p) == value.charAt(v))) {
                p++;
                v++;
            } else if (p < pattern.length() && pattern.charAt(p) == '*') {
                star = p++;
                mark = v;
            } else if (star >= 0) {
                p = star + 1;
                v = ++mark;
            } else {
                return false;
            }
        }
        while (p < pattern.length() && pattern.charAt(p) == '*') p++;
        return p == pattern.length();
    }
}
