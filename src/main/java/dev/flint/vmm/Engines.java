package dev.flint.vmm;

import dev.flint.engine.Engine;
import dev.flint.engine.EngineException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * The engines this build has, in order of preference, and the choice between them. {@code auto} takes
 * the first engine whose {@link Engine#availability()} says it can boot a stock kernel here: kvm on a
 * host with VT-x/AMD-V, else emu. Naming an engine that cannot run here fails with that engine's reason.
 */
public final class Engines {
    public static final String AUTO = "auto";
    public static final String KVM = "kvm";
    public static final String EMU = "emu";
    /** The names {@code --engine} accepts. */
    public static final List<String> CHOICES = List.of(AUTO, KVM, EMU);

    private final List<Supplier<Engine>> engines;

    /** Engines in preference order; each supplier is asked once per selection (engines are cheap to make). */
    public Engines(List<Supplier<Engine>> engines) {
        this.engines = List.copyOf(engines);
    }

    /** The engines of this build: kvm first (hardware speed), then emu (runs anywhere). */
    public static Engines standard() {
        List<Supplier<Engine>> list = new ArrayList<>();
        list.add(dev.flint.engine.kvm.KvmEngine::new);
        list.add(dev.flint.engine.emu.EmuEngine::standard);
        return new Engines(list);
    }

    /**
     * The engine called {@code name}, or for {@code auto} the best usable one. Fails with a one-line
     * {@link EngineException} when the named engine cannot run here or none can.
     */
    public Engine select(String name) {
        if (AUTO.equals(name)) return selectAuto();
        for (Supplier<Engine> supplier : engines) {
            Engine engine = supplier.get();
            if (engine.name().equals(name)) {
                Engine.Availability availability = engine.availability();
                if (!availability.usable()) throw new EngineException("engine " + name + ": " + availability.reason());
                return engine;
            }
        }
        throw new EngineException("engine " + name + " is not part of this build");
    }

    /**
     * Warms up ({@link Engine#warmUp}) the engine {@code name} would select, on the calling thread; for
     * {@code auto} only the preferred engine, so that no other engine is made for it. True if anything was done.
     */
    public boolean warmUp(String name) {
        for (Supplier<Engine> supplier : engines) {
            Engine engine = supplier.get();
            if (AUTO.equals(name) || engine.name().equals(name)) return engine.warmUp();
        }
        return false;
    }

    private Engine selectAuto() {
        List<String> reasons = new ArrayList<>();
        for (Supplier<Engine> supplier : engines) {
            Engine engine = supplier.get();
            Engine.Availability availability = engine.availability();
            if (availability.usable()) return engine;
            reasons.add(engine.name() + ": " + availability.reason());
        }
        if (reasons.isEmpty()) throw new EngineException("this build has no engine");
        throw new EngineException("no engine can run here (" + String.join("; ", reasons) + ")");
    }
}
