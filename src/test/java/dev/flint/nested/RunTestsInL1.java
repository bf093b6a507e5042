package dev.flint.nested;

import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;

import java.io.PrintWriter;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectMethod;

/**
 * Runs JUnit test classes (or single tests, {@code CLASS#METHOD}) in a plain JVM and prints a summary; the nested harness uses it to run the KVM
 * engine's tests inside L1, where /dev/kvm is a stock KVM. Exit status 0 only if every test ran and passed
 * (a skipped test counts as a failure: inside L1 nothing may be skipped for lack of KVM).
 */
public final class RunTestsInL1 {
    private RunTestsInL1() {}

    public static void main(String[] args) throws ClassNotFoundException {
        LauncherDiscoveryRequestBuilder request = LauncherDiscoveryRequestBuilder.request();
        for (String name : args) {
            // CLASS runs the class, CLASS#METHOD one of its tests (to rerun one check without the rest).
            request.selectors(name.contains("#") ? method(name) : selectClass(Class.forName(name)));
        }
        LauncherDiscoveryRequest built = request.build();
        Launcher launcher = LauncherFactory.create();
        SummaryGeneratingListener listener = new SummaryGeneratingListener();
        launcher.execute(built, listener, new Durations());
        TestExecutionSummary summary = listener.getSummary();
        PrintWriter out = new PrintWriter(System.out, true);
        summary.printFailuresTo(out, 20);
        out.printf("tests found=%d succeeded=%d failed=%d skipped=%d aborted=%d%n",
                summary.getTestsFoundCount(), summary.getTestsSucceededCount(), summary.getTestsFailedCount(),
                summary.getTestsSkippedCount(), summary.getTestsAbortedCount());
        boolean allPassed = summary.getTestsFoundCount() > 0
                && summary.getTestsSucceededCount() == summary.getTestsFoundCount();
        System.exit(allPassed ? 0 : 1);
    }

    /** CLASS#METHOD by name alone (JUnit's own form wants the parameter types: tests take a @TempDir). */
    private static org.junit.platform.engine.discovery.MethodSelector method(String name) throws ClassNotFoundException {
        Class<?> test = Class.forName(name.substring(0, name.indexOf('#')));
        String method = name.substring(name.indexOf('#') + 1);
        for (java.lang.reflect.Method m : test.getDeclaredMethods()) {
            if (m.getName().equals(method)) return selectMethod(test, m);
        }
        throw new IllegalArgumentException("no test " + method + " in " + test.getName());
    }

    /** One line per test with its wall time: the nested run is part of CI, whose time is budgeted. */
    private static final class Durations implements TestExecutionListener {
        private final Map<String, Long> started = new ConcurrentHashMap<>();

        @Override
        public void executionStarted(TestIdentifier test) {
            if (test.isTest()) started.put(test.getUniqueId(), System.nanoTime());
        }

        @Override
        public void executionFinished(TestIdentifier test, TestExecutionResult result) {
            Long t0 = started.remove(test.getUniqueId());
            if (t0 != null) {
                System.out.printf("test %s %s: %s in %.1f s%n", test.getParentIdObject().map(id -> id.getLastSegment().getValue())
                        .orElse(""), test.getDisplayName(), result.getStatus(), (System.nanoTime() - t0) / 1e9);
            }
        }
    }
}
