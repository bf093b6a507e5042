package dev.flint.engine.emu.nativecode;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

/**
 * The native code machinery (cache, emitter) is a back end: it knows host code and host memory, never the guest's
 * CPU, MMU or engine. The block translator that turns {@code DecodedInsn}s into host code sits above it and uses
 * both sides (docs/emu-native.md), so nothing here may reach up into the emulator, and the emulator's tiers do
 * not see it until that translator exists.
 */
class NativeCodeLayeringTest {
    private static final String PKG = "dev.flint.engine.emu.nativecode";

    @Test
    void theBackEndKnowsNothingOfTheGuest() {
        JavaClasses classes = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("dev.flint.engine.emu");
        noClasses().that().resideInAPackage(PKG)
                .should().dependOnClassesThat().resideInAnyPackage("dev.flint.engine.emu", "dev.flint.engine.emu.cpu..",
                        "dev.flint.engine.emu.mmu..", "dev.flint.engine.emu.fpu..", "dev.flint.engine.emu.irq..")
                .because("host code generation is below the translator that knows the guest")
                .check(classes);
    }
}
