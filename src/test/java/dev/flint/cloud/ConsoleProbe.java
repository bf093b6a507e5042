package dev.flint.cloud;

import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The web console as a browser uses it, against a real daemon, run as its own JVM inside the daemon's
 * network namespace (where the daemon's loopback is): signs in with the daemon's keys, reads the instance's
 * state through the console's own EC2 calls, then types a command into the instance's live serial console
 * and waits for the guest's answer. Exit 0 and "console probe: ok" when all of that worked, else 1 with why.
 *
 * <p>Usage: {@code ConsoleProbe BASE_URL ACCESS_KEY SECRET INSTANCE_ID COMMAND EXPECTED}
 */
public final class ConsoleProbe {
    private ConsoleProbe() {}

    public static void main(String[] args) throws Exception {
        String base = args[0], key = args[1], secret = args[2], instance = args[3], command = args[4], expected = args[5];
        HttpClient http = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER).build();
        HttpResponse<String> signIn = http.send(HttpRequest.newBuilder(URI.create(base + "/console/signin"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString("accessKeyId=" + enc(key) + "&secretAccessKey=" + enc(secret)))
                .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
        if (signIn.statusCode() != 303) fail("sign-in answered " + signIn.statusCode() + ": " + signIn.body());
        String setCookie = signIn.headers().firstValue("Set-Cookie").orElse("");
        String cookie = setCookie.substring(0, Math.max(0, setCookie.indexOf(';')));

        HttpResponse<String> page = http.send(HttpRequest.newBuilder(URI.create(base + "/console/")).header("Cookie", cookie)
                .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
        Matcher csrf = Pattern.compile("name=\"flint-csrf\" content=\"([0-9a-f]{64})\"").matcher(page.body());
        if (page.statusCode() != 200 || !csrf.find()) fail("the console page answered " + page.statusCode() + " without a CSRF token");

        HttpResponse<String> described = http.send(HttpRequest.newBuilder(URI.create(base + "/console/api"))
                .header("Content-Type", "application/x-www-form-urlencoded").header("Cookie", cookie)
                .header("X-Flint-Csrf", csrf.group(1)).header("Origin", base)
                .POST(HttpRequest.BodyPublishers.ofString("Action=DescribeInstances&Version=2016-11-15&InstanceId.1=" + instance))
                .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
        if (described.statusCode() != 200 || !described.body().contains("<instanceId>" + instance + "</instanceId>")
                || !described.body().contains("<name>running</name>")) {
            fail("the console's DescribeInstances answered " + described.statusCode() + ": " + described.body());
        }

        StringBuffer seen = new StringBuffer();
        WebSocket socket = http.newWebSocketBuilder().header("Cookie", cookie).header("Origin", base)
                .buildAsync(URI.create(base.replaceFirst("^http", "ws") + "/console/ws/serial/" + instance), new WebSocket.Listener() {
                    @Override
                    public CompletionStage<?> onBinary(WebSocket ws, ByteBuffer data, boolean last) {
                        byte[] bytes = new byte[data.remaining()];
                        data.get(bytes);
                        seen.append(new String(bytes, StandardCharsets.UTF_8));
                        ws.request(1);
                        return null;
                    }

                    @Override
                    public CompletionStage<?> onText(WebSocket ws, CharSequence text, boolean last) {
                        seen.append(text);
                        ws.request(1);
                        return null;
                    }
                }).get(30, TimeUnit.SECONDS);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        long nextPress = 0;
        while (!seen.toString().contains(expected)) {
            if (System.nanoTime() > deadline) fail("no '" + expected + "' from the serial console; it showed:\n" + seen);
            // The shell may still be starting: type the command again every 10 s until it answers.
            if (System.nanoTime() > nextPress) {
                socket.sendBinary(ByteBuffer.wrap((command + "\r").getBytes(StandardCharsets.UTF_8)), true).get(10, TimeUnit.SECONDS);
                nextPress = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            }
            Thread.sleep(100);
        }
        socket.sendClose(WebSocket.NORMAL_CLOSURE, "done").get(10, TimeUnit.SECONDS);
        System.out.println("console probe: ok");
        System.exit(0);
    }

    private static void fail(String why) {
        System.out.println("console probe: " + why);
        System.exit(1);
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }
}
