package dev.flint.engine.emu;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassModel;
import java.lang.classfile.MethodModel;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * HotSpot never JIT-compiles a method of more than 8,000 bytecode bytes (-XX:-DontCompileHugeMethods is
 * off by default): such a method in the emu engine would run interpreted forever, silently many times
 * slower. This fails when any method of the engine's classes grows past that limit.
 */
class MethodSizeTest {
    private static final int HUGE_METHOD_LIMIT = 8000;

    @Test
    void noEmuEngineMethodIsTooLargeForTheJit() throws IOException, URISyntaxException {
        Path root = Path.of(EmuEngine.class.getProtectionDomain().getCodeSource().getLocation().toURI())
                .resolve("dev/flint/engine/emu");
        List<String> huge = new ArrayList<>();
        int methods = 0;
        try (Stream<Path> files = Files.walk(root)) {
            for (Path file : files.filter(f -> f.toString().endsWith(".class")).toList()) {
                ClassModel model = ClassFile.of().parse(file);
                for (MethodModel m : model.methods()) {
                    var code = m.findAttribute(java.lang.classfile.Attributes.code());
                    if (code.isEmpty()) continue;
                    methods++;
                    int size = code.get().codeLength();
                    if (size > HUGE_METHOD_LIMIT) {
                        huge.add(model.thisClass().asInternalName() + "." + m.methodName().stringValue() + ": " + size + " bytes");
                    }
                }
            }
        }
        assertTrue(methods > 500, "found the engine's classes (" + methods + " methods under " + root + ")");
        assertEquals(List.of(), huge, "methods past HotSpot's huge-method limit of " + HUGE_METHOD_LIMIT + " bytes");
    }
}
