package dev.flint.engine.emu.cpu;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

/**
 * The emu CPU core's calls go one way, downward (docs/emu-cpu.md):
 *
 * <pre>
 *   Cpu                      the runner over the tiers, the VM's facade
 *   Interpreter              one instruction: opcode, then its family
 *   *Instructions            the instruction families
 *   Interrupts, Descriptors, TaskSwitch, PortIo
 *   Decoder                  fetch, prefixes, ModRM, operands
 *   CpuState, Mmu, Alu, Flags, Stack, SegmentChecks
 * </pre>
 *
 * Checked on the compiled main classes, so a helper that reaches back up into the runner (an accessor
 * added to Cpu for it, a Cpu passed down) fails here with the offending class and line.
 */
class CpuLayeringTest {
    private static final String PKG = "dev.flint.engine.emu.cpu";
    private static JavaClasses emu;

    @BeforeAll
    static void importMainClasses() {
        emu = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages(PKG, "dev.flint.engine.emu.fpu");
    }

    /** The decoder, the interpreter, the families and the helpers below them never see the runner. */
    @Test
    void nothingBelowTheRunnerDependsOnCpu() {
        noClasses().that().haveSimpleNameEndingWith("Instructions").and().resideInAPackage(PKG)
                .or().haveFullyQualifiedName(PKG + ".Interpreter")
                .or().haveFullyQualifiedName(PKG + ".Decoder")
                .or().haveFullyQualifiedName(PKG + ".PortIo")
                .or().haveFullyQualifiedName(PKG + ".Interrupts")
                .or().haveFullyQualifiedName(PKG + ".Descriptors")
                .or().haveFullyQualifiedName(PKG + ".TaskSwitch")
                .or().haveFullyQualifiedName(PKG + ".Stack")
                .or().haveFullyQualifiedName(PKG + ".Alu")
                .or().haveFullyQualifiedName(PKG + ".Flags")
                .or().resideInAPackage("dev.flint.engine.emu.fpu..")
                .should().dependOnClassesThat().haveFullyQualifiedName(PKG + ".Cpu")
                .because("calls go downward: the runner passes what a helper needs down instead")
                .check(emu);
    }

    /** The families are reached through the interpreter only, and never call it back. */
    @Test
    void familiesNeverCallTheInterpreter() {
        noClasses().that().haveSimpleNameEndingWith("Instructions").and().resideInAPackage(PKG)
                .should().dependOnClassesThat().haveFullyQualifiedName(PKG + ".Interpreter")
                .check(emu);
    }

    /** The decoder is below the families and the privileged helpers: it knows none of them. */
    @Test
    void theDecoderKnowsNothingAboveIt() {
        noClasses().that().haveFullyQualifiedName(PKG + ".Decoder")
                .should().dependOnClassesThat().haveSimpleNameEndingWith("Instructions")
                .orShould().dependOnClassesThat().haveFullyQualifiedName(PKG + ".Interpreter")
                .orShould().dependOnClassesThat().haveFullyQualifiedName(PKG + ".Interrupts")
                .orShould().dependOnClassesThat().haveFullyQualifiedName(PKG + ".Descriptors")
                .orShould().dependOnClassesThat().haveFullyQualifiedName(PKG + ".TaskSwitch")
                .check(emu);
    }
}
