package dev.flint;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.Architectures.layeredArchitecture;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchRule;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Flint's layering, checked on the compiled main classes so it cannot erode:
 *
 * <pre>
 *   cli
 *   api · cloud            (cloud may use api; api never uses cloud)
 *   vmm                    guest (used by cli, cloud, vmm)
 *   engine · devices       (neither sees the other)
 *   arch
 *   machine
 *   sys
 * </pre>
 *
 * A layer may use any layer below it, never one above or beside it. What each layer may use is written
 * as who may access it, so a new package or a new dependency upward fails here with the offending
 * class and line.
 */
class ArchitectureTest {
    private static JavaClasses flint;

    @BeforeAll
    static void importMainClasses() {
        flint = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS).importPackages("dev.flint");
    }

    @Test
    void callsOnlyGoDownward() {
        ArchRule layers = layeredArchitecture().consideringAllDependencies()
                .layer("cli").definedBy("dev.flint.cli..")
                .layer("api").definedBy("dev.flint.api..")
                .layer("cloud").definedBy("dev.flint.cloud..")
                .layer("vmm").definedBy("dev.flint.vmm..")
                .layer("guest").definedBy("dev.flint.guest..")
                .layer("engine").definedBy("dev.flint.engine..")
                .layer("devices").definedBy("dev.flint.devices..")
                .layer("arch").definedBy("dev.flint.arch..")
                .layer("machine").definedBy("dev.flint.machine..")
                .layer("sys").definedBy("dev.flint.sys..")
                .whereLayer("cli").mayNotBeAccessedByAnyLayer()
                .whereLayer("api").mayOnlyBeAccessedByLayers("cli", "cloud")
                .whereLayer("cloud").mayOnlyBeAccessedByLayers("cli")
                .whereLayer("vmm").mayOnlyBeAccessedByLayers("cli", "api", "cloud")
                .whereLayer("guest").mayOnlyBeAccessedByLayers("cli", "cloud", "vmm")
                .whereLayer("engine").mayOnlyBeAccessedByLayers("cli", "api", "vmm")
                .whereLayer("devices").mayOnlyBeAccessedByLayers("cli", "api", "vmm")
                .whereLayer("arch").mayOnlyBeAccessedByLayers("cli", "api", "vmm", "engine", "devices")
                .whereLayer("machine").mayOnlyBeAccessedByLayers("cli", "api", "cloud", "vmm", "guest", "engine", "devices", "arch")
                .whereLayer("sys").mayOnlyBeAccessedByLayers("cli", "api", "cloud", "vmm", "guest", "engine", "devices", "arch", "machine")
                .allowEmptyShould(true);
        layers.check(flint);
    }

    /** Devices reach the vCPUs' world only through machine's seams (buses, InterruptController, IoFastPaths). */
    @Test
    void devicesNeverSeeAnEngine() {
        noClasses().that().resideInAPackage("dev.flint.devices..")
                .should().dependOnClassesThat().resideInAPackage("dev.flint.engine..")
                .check(flint);
    }

    /** An engine dispatches to whatever sits on the buses; it never names a device class. */
    @Test
    void enginesNeverSeeDevicesClasses() {
        noClasses().that().resideInAPackage("dev.flint.engine..")
                .should().dependOnClassesThat().resideInAPackage("dev.flint.devices..")
                .check(flint);
    }

    /** The seams everything shares, and the libc calls under them, depend on nothing of Flint above them. */
    @Test
    void machineAndSysDependOnNothingAboveThem() {
        noClasses().that().resideInAPackage("dev.flint.machine..")
                .should().dependOnClassesThat().resideInAnyPackage("dev.flint.cli..", "dev.flint.api..", "dev.flint.cloud..",
                        "dev.flint.vmm..", "dev.flint.guest..", "dev.flint.engine..", "dev.flint.devices..", "dev.flint.arch..")
                .check(flint);
        noClasses().that().resideInAPackage("dev.flint.sys..")
                .should().dependOnClassesThat().resideInAnyPackage("dev.flint.cli..", "dev.flint.api..", "dev.flint.cloud..",
                        "dev.flint.vmm..", "dev.flint.guest..", "dev.flint.engine..", "dev.flint.devices..", "dev.flint.arch..",
                        "dev.flint.machine..")
                .check(flint);
    }

    /** Every main class is in one of the layers above, so none escapes the rules. */
    @Test
    void everyClassBelongsToALayer() {
        classes().should().resideInAnyPackage("dev.flint.cli..", "dev.flint.api..", "dev.flint.cloud..", "dev.flint.vmm..",
                        "dev.flint.guest..", "dev.flint.engine..", "dev.flint.devices..", "dev.flint.arch..", "dev.flint.machine..",
                        "dev.flint.sys..")
                .check(flint);
    }

    /**
     * {@code flint vmm} runs from target/flint-vmm.jar, whose class path names only the libraries listed in
     * src/build/VmmJar.java (the short class path keeps ~80 jars it does not use off its start-up). A class
     * of the packages a VMM runs that used another library would fail there with NoClassDefFoundError, so
     * it fails here first, naming the class and the dependency. A new library for the VMM goes in both lists.
     */
    @Test
    void theVmmsPackagesUseOnlyTheLibrariesOfItsClassPath() {
        vmmPackagesUsingOnly(VMM_LIBRARY_PACKAGES).check(flint);
    }

    /** VmmJar.VMM_LIBRARIES, as packages. */
    static final String[] VMM_LIBRARY_PACKAGES = {"picocli..", "com.fasterxml.jackson..", "org.eclipse.jetty.server..",
            "org.eclipse.jetty.http..", "org.eclipse.jetty.io..", "org.eclipse.jetty.util..",
            "org.eclipse.jetty.unixdomain.server..", "org.slf4j..", "org.tukaani.xz.."};

    static ArchRule vmmPackagesUsingOnly(String... libraries) {
        String[] allowed = java.util.stream.Stream.concat(
                java.util.stream.Stream.of("java..", "javax..", "jdk..", "sun..", "com.sun..", "dev.flint..", ""), // the JDK, Flint, primitives
                java.util.stream.Stream.of(libraries)).toArray(String[]::new);
        return classes().that().resideInAnyPackage("dev.flint.api..", "dev.flint.vmm..", "dev.flint.guest..", "dev.flint.engine..",
                        "dev.flint.devices..", "dev.flint.arch..", "dev.flint.machine..", "dev.flint.sys..")
                .should().onlyDependOnClassesThat().resideInAnyPackage(allowed)
                .because("flint vmm's class path (src/build/VmmJar.java) holds only these libraries");
    }
}
