package dev.flint.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.flint.engine.Engine;
import dev.flint.engine.Engine.Availability;
import dev.flint.engine.EngineException;
import java.util.List;
import org.junit.jupiter.api.Test;

class EnginesTest {
    private static final String PVM = "KVM here is PVM (no VT-x/AMD-V): it cannot run a stock kernel; use --engine emu";

    private static Engine engine(String name, Availability availability) {
        return new FakeEngine(name, availability, vm -> {});
    }

    @Test
    void autoPrefersKvmWhenItCanRunAStockKernel() {
        Engines engines = new Engines(List.of(() -> engine("kvm", Availability.yes()), () -> engine("emu", Availability.yes())));
        assertEquals("kvm", engines.select("auto").name());
    }

    @Test
    void autoFallsBackToEmuOnAPvmHost() {
        Engines engines = new Engines(List.of(() -> engine("kvm", Availability.no(PVM)), () -> engine("emu", Availability.yes())));
        assertEquals("emu", engines.select("auto").name());
        assertEquals("emu", engines.select("emu").name());
    }

    @Test
    void namingAnUnusableEngineFailsWithItsReason() {
        Engines engines = new Engines(List.of(() -> engine("kvm", Availability.no(PVM)), () -> engine("emu", Availability.yes())));
        EngineException e = assertThrows(EngineException.class, () -> engines.select("kvm"));
        assertEquals("engine kvm: " + PVM, e.getMessage());
    }

    @Test
    void autoWithNothingUsableListsEveryReason() {
        Engines engines = new Engines(List.of(() -> engine("kvm", Availability.no("/dev/kvm does not exist")),
                () -> engine("emu", Availability.no("not built"))));
        EngineException e = assertThrows(EngineException.class, () -> engines.select("auto"));
        assertEquals("no engine can run here (kvm: /dev/kvm does not exist; emu: not built)", e.getMessage());
    }

    @Test
    void anEngineMissingFromTheBuildIsNamed() {
        Engines engines = new Engines(List.of(() -> engine("emu", Availability.yes())));
        assertEquals("engine kvm is not part of this build",
                assertThrows(EngineException.class, () -> engines.select("kvm")).getMessage());
    }

    @Test
    void warmingUpMakesOnlyTheEngineABootWouldTryFirst() {
        List<String> made = new java.util.ArrayList<>();
        Engines engines = new Engines(List.of(() -> { made.add("kvm"); return engine("kvm", Availability.yes()); },
                () -> { made.add("emu"); return engine("emu", Availability.yes()); }));
        assertEquals(false, engines.warmUp("auto"), "the fake has nothing to warm");
        assertEquals(List.of("kvm"), made, "auto warms the preferred engine only; emu is not even made");
        made.clear();
        engines.warmUp("emu");
        assertEquals(List.of("kvm", "emu"), made);
        assertEquals(false, new Engines(List.of()).warmUp("auto"));
    }
}
