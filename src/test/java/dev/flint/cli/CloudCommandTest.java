package dev.flint.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flint.cloud.ec2.CloudCredentials;
import dev.flint.vmm.Engines;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code flint cloud env} and the refusals of {@code flint cloud serve} that come before any machine is made. */
class CloudCommandTest {
    @TempDir
    Path temp;

    private CliRunner.Result run(String... args) {
        return new CliRunner(new Engines(List.of()), temp.resolve("cache")).run(args);
    }

    @Test
    void envPrintsExportsAShellCanEval() throws Exception {
        Path data = temp.resolve("data");
        CloudCredentials credentials = CloudCredentials.loadOrCreate(data);
        Files.writeString(data.resolve("endpoint"), "http://127.0.0.1:9999\n");
        CliRunner.Result r = run("cloud", "env", "--data", data.toString());
        assertEquals(0, r.exitCode(), r.stderr());
        Process bash = new ProcessBuilder("bash", "-c", "eval \"$(cat)\"; echo \"$AWS_ACCESS_KEY_ID|$AWS_SECRET_ACCESS_KEY|$AWS_DEFAULT_REGION|$AWS_ENDPOINT_URL_EC2\"")
                .redirectErrorStream(true).start();
        bash.getOutputStream().write(r.stdout().getBytes(StandardCharsets.UTF_8));
        bash.getOutputStream().close();
        String seen = new String(bash.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertEquals(0, bash.waitFor());
        assertEquals(credentials.accessKeyId() + "|" + credentials.secretAccessKey() + "|flint-local|http://127.0.0.1:9999", seen);
    }

    @Test
    void envBeforeTheFirstServeMakesTheKeysTheDaemonWillAccept() {
        Path data = temp.resolve("fresh");
        CliRunner.Result r = run("cloud", "env", "--data", data.toString());
        assertEquals(0, r.exitCode(), r.stderr());
        CloudCredentials made;
        try {
            made = CloudCredentials.loadOrCreate(data); // what `serve` does on its start
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
        assertTrue(r.stdout().contains("export AWS_ACCESS_KEY_ID='" + made.accessKeyId() + "'"), r.stdout());
        assertTrue(r.stdout().contains("export AWS_SECRET_ACCESS_KEY='" + made.secretAccessKey() + "'"), r.stdout());
        assertTrue(r.stdout().contains("export AWS_ENDPOINT_URL_EC2='http://127.0.0.1:8773'"), r.stdout());
    }

    @Test
    void serveRefusesBadOptionsWithOneLine() {
        CliRunner.Result listen = run("cloud", "serve", "--listen", "nowhere", "--data", temp.resolve("d").toString());
        assertEquals(2, listen.exitCode());
        assertEquals(List.of("flint: --listen must be ADDR:PORT (e.g. 127.0.0.1:8773), got 'nowhere'"), listen.stderrLines());
        CliRunner.Result store = run("cloud", "serve", "--listen", "127.0.0.1:0", "--store", "mysql://x", "--data", temp.resolve("d").toString());
        assertEquals(2, store.exitCode());
        assertTrue(store.stderr().startsWith("flint: --store must be sqlite:PATH or etcd://HOST:PORT"), store.stderr());
        CliRunner.Result group = run("cloud");
        assertEquals(2, group.exitCode());
        assertTrue(group.stderr().contains("serve") && group.stderr().contains("env"), group.stderr());
    }
}
