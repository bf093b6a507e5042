package dev.flint.cloud.console;

import java.util.ArrayList;
import java.util.List;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;

/**
 * The console as the daemon mounts it: a Jetty server on 127.0.0.1 whose handlers are the console and,
 * after it, a stand-in for the EC2 API (so the test also sees that the console leaves other paths alone).
 */
final class ConsoleTestServer implements AutoCloseable {

    static final String ACCESS_KEY = "AKIAFLINTCONSOLETEST";
    static final String SECRET = "console-test-secret/abc+123";

    final FakeEc2 ec2 = new FakeEc2();
    final ShellSerialConsoles serial = new ShellSerialConsoles(id -> "running".equals(ec2.state(id)));
    final Server server = new Server();
    private final ServerConnector connector = new ServerConnector(server);

    ConsoleTestServer() throws Exception {
        connector.setHost("127.0.0.1");
        connector.setPort(0);
        server.addConnector(connector);
        InstanceMetrics metrics = ConsoleTestServer::syntheticMetrics;
        ConsoleHandler console = new ConsoleHandler(ec2, serial, metrics, ConsoleCredentials.of(ACCESS_KEY, SECRET));
        Handler.Abstract ec2Api = new Handler.Abstract() {
            @Override
            public boolean handle(Request request, Response response, Callback callback) {
                response.setStatus(200);
                response.write(true, java.nio.ByteBuffer.wrap("ec2-api".getBytes()), callback);
                return true;
            }
        };
        server.setHandler(new Handler.Sequence(console, ec2Api));
        server.start();
    }

    String base() {
        return "http://127.0.0.1:" + connector.getLocalPort();
    }

    int port() {
        return connector.getLocalPort();
    }

    /** A minute of samples ending now: CPU and I/O that rise and fall, so the plot has a shape. */
    static List<InstanceMetrics.Sample> syntheticMetrics(String instanceId) {
        List<InstanceMetrics.Sample> samples = new ArrayList<>();
        long now = System.currentTimeMillis();
        long read = 0, write = 0, rx = 0, tx = 0;
        for (int n = 0; n < 30; n++) {
            double wave = Math.sin(n / 4.0);
            read += (long) (200_000 * (1 + wave));
            write += (long) (50_000 * (1 - wave));
            rx += 3_000 + 1_000L * (n % 5);
            tx += 1_500;
            samples.add(new InstanceMetrics.Sample(now - (29 - n) * 2000L, 35 + 30 * wave, read, write, rx, tx));
        }
        return samples;
    }

    @Override
    public void close() throws Exception {
        serial.close();
        server.stop();
    }
}
