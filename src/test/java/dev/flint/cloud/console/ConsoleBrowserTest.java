package dev.flint.cloud.console;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.Keys;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The console in a real browser: Debian's headless Chromium driven through its chromedriver by Selenium,
 * against the console over an in-memory EC2 fake and a real shell as the serial port. One test walks what
 * a user does, saving a screenshot of each step under target/console-screenshots/.
 */
@Timeout(240)
class ConsoleBrowserTest {

    private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    private static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
    private static final Path SCREENSHOTS = Path.of("target", "console-screenshots");
    private static final Path DOWNLOADS = Path.of("target", "console-downloads");
    private static final Duration WAIT = Duration.ofSeconds(45);

    private static ConsoleTestServer server;
    private static WebDriver browser;

    @BeforeAll
    static void start() throws Exception {
        assumeTrue(Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER),
                "needs Debian's chromium and chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver): bin/test installs them");
        Files.createDirectories(SCREENSHOTS);
        Files.createDirectories(DOWNLOADS);
        try (var old = Files.list(DOWNLOADS)) {
            for (Path p : old.toList()) {
                Files.delete(p);
            }
        }
        server = new ConsoleTestServer();
        ChromeOptions options = new ChromeOptions();
        // The system browser and driver, named explicitly, so Selenium Manager never looks for (or downloads) one.
        options.setBinary(CHROMIUM.toFile());
        options.addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1000", "--no-first-run", "--disable-extensions", "--disable-background-networking");
        options.setExperimentalOption("prefs", Map.of(
                "download.default_directory", DOWNLOADS.toAbsolutePath().toString(),
                "download.prompt_for_download", false));
        ChromeDriverService service = new ChromeDriverService.Builder()
                .usingDriverExecutable(CHROMEDRIVER.toFile())
                .usingAnyFreePort()
                .build();
        browser = new ChromeDriver(service, options);
    }

    @AfterAll
    static void stop() throws Exception {
        if (browser != null) {
            browser.quit();
        }
        if (server != null) {
            server.close();
        }
    }

    @Test
    void signInLaunchWatchItRunTypeIntoItsSerialConsoleStopAndTerminate() throws Exception {
        WebDriverWait wait = new WebDriverWait(browser, WAIT, Duration.ofMillis(100));

        // Not signed in: the sign-in page, and nothing else.
        browser.get(server.base() + "/console/#/launch");
        wait.until(ExpectedConditions.visibilityOfElementLocated(By.id("accessKeyId")));
        screenshot("01-sign-in");
        browser.findElement(By.id("accessKeyId")).sendKeys(ConsoleTestServer.ACCESS_KEY);
        browser.findElement(By.id("secretAccessKey")).sendKeys("not-the-secret");
        browser.findElement(By.id("signin")).click();
        wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("signin-error"), "Wrong access key ID"));
        browser.findElement(By.id("accessKeyId")).clear();
        browser.findElement(By.id("accessKeyId")).sendKeys(ConsoleTestServer.ACCESS_KEY);
        browser.findElement(By.id("secretAccessKey")).sendKeys(ConsoleTestServer.SECRET);
        browser.findElement(By.id("signin")).click();
        wait.until(ExpectedConditions.textToBePresentInElementLocated(By.tagName("main"), "No instances"));
        screenshot("02-signed-in");

        // A key pair: created in the browser, its private key downloaded once.
        browser.get(server.base() + "/console/#/key-pairs");
        wait.until(ExpectedConditions.visibilityOfElementLocated(By.id("keypair-name"))).sendKeys("console-key");
        browser.findElement(By.id("keypair-create")).click();
        wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("keypair-created"), "console-key.pem"));
        Path pem = DOWNLOADS.resolve("console-key.pem");
        wait.until(d -> Files.exists(pem));
        assertTrue(Files.readString(pem).contains("fake-key-of-console-key"), "the private key the API returned was downloaded");
        screenshot("03-key-pair-created");

        // Launch from the form.
        browser.findElement(By.linkText("Launch")).click();
        wait.until(ExpectedConditions.visibilityOfElementLocated(By.id("launch-form")));
        wait.until(d -> !new Select(d.findElement(By.id("key"))).getOptions().stream()
                .filter(o -> o.getText().equals("console-key")).toList().isEmpty());
        new Select(browser.findElement(By.id("type"))).selectByValue("t3.small");
        new Select(browser.findElement(By.id("key"))).selectByValue("console-key");
        browser.findElement(By.id("name")).sendKeys("web-1");
        browser.findElement(By.id("user-data")).sendKeys("#!/bin/sh\necho hello from user data");
        assertTrue(browser.findElement(By.id("launch-form")).getText().contains("Security groups are not available"),
                "an action the daemon lacks is named politely, not hidden or faked");
        screenshot("04-launch-form");
        browser.findElement(By.id("launch")).click();
        wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("flash"), "Launched i-"));

        List<FakeEc2.Instance> launched = server.ec2.instances();
        assertEquals(1, launched.size());
        FakeEc2.Instance instance = launched.getFirst();
        assertEquals(FakeEc2.IMAGE, instance.imageId);
        assertEquals("t3.small", instance.type);
        assertEquals("console-key", instance.keyName);
        assertEquals("#!/bin/sh\necho hello from user data", instance.userData);
        assertEquals(Map.of("Name", "web-1"), instance.tags);
        Map<String, List<String>> run = server.ec2.calls().stream()
                .filter(c -> c.get("Action").equals(List.of("RunInstances"))).findFirst().orElseThrow();
        assertEquals(List.of("1"), run.get("MinCount"));
        assertEquals(List.of("2016-11-15"), run.get("Version"));
        assertEquals(instance.userData, new String(Base64.getDecoder().decode(run.get("UserData").getFirst()), StandardCharsets.UTF_8),
                "user data travels base64-encoded, as the CLI sends it");

        // The live table: the instance reaches running without a reload.
        By stateCell = By.cssSelector("tr[data-instance='" + instance.id + "'] td[data-col='state']");
        wait.until(ExpectedConditions.textToBe(stateCell, "running"));
        screenshot("05-running");

        // One state: an instance launched through the same handlers by another client (as `aws ec2
        // run-instances` would be) shows up in the open table without a reload.
        server.ec2.handle(Map.of("Action", List.of("RunInstances"), "Version", List.of("2016-11-15"),
                "ImageId", List.of(FakeEc2.IMAGE), "InstanceType", List.of("t3.micro"), "MinCount", List.of("1"),
                "MaxCount", List.of("1")));
        String other = server.ec2.instances().get(1).id;
        wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("tr[data-instance='" + other + "']")));

        // The other lists: what the daemon has, and a polite note for what it has not.
        browser.findElement(By.linkText("Images")).click();
        wait.until(ExpectedConditions.textToBePresentInElementLocated(By.tagName("main"), "debian-12-busybox"));
        browser.findElement(By.linkText("Volumes")).click();
        wait.until(ExpectedConditions.textToBePresentInElementLocated(By.tagName("main"), "Volumes are not available"));
        browser.findElement(By.linkText("Instances")).click();

        // Its page: console output, metrics, and the serial console with typing.
        wait.until(ExpectedConditions.elementToBeClickable(By.linkText(instance.id))).click();
        wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("console-output"), "fake console of " + instance.id));
        wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("#metrics svg polyline")));
        wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("serial-status"), "connected"));
        wait.until(d -> terminalText().contains("fake-guest$"));
        WebElement keyboard = browser.findElement(By.cssSelector("#serial-terminal .xterm-helper-textarea"));
        keyboard.sendKeys("echo flint-$((6*7))");
        keyboard.sendKeys(Keys.ENTER);
        wait.until(d -> terminalLines().contains("flint-42"));
        screenshot("06-serial-console");

        // Stop, then terminate (which asks once more).
        wait.until(ExpectedConditions.elementToBeClickable(By.cssSelector("#instance-page button[data-action='stop']"))).click();
        wait.until(ExpectedConditions.attributeToBe(By.id("instance-page"), "data-state", "stopped"));
        wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("serial-status"), "not running"));
        screenshot("07-stopped");
        browser.findElement(By.cssSelector("#instance-page button[data-action='terminate']")).click();
        wait.until(ExpectedConditions.textToBePresentInElementLocated(
                By.cssSelector("#instance-page button[data-action='terminate']"), "Confirm terminate"));
        browser.findElement(By.cssSelector("#instance-page button[data-action='terminate']")).click();
        wait.until(ExpectedConditions.attributeToBe(By.id("instance-page"), "data-state", "terminated"));
        assertEquals("terminated", server.ec2.state(instance.id));

        browser.findElement(By.linkText("Instances")).click();
        wait.until(ExpectedConditions.textToBe(stateCell, "terminated"));
        screenshot("08-terminated");
        wait.until(d -> server.serial.openSessions() == 0);
    }

    /** The terminal's screen as xterm.js's DOM renderer draws it, one string per row. */
    @SuppressWarnings("unchecked")
    private static List<String> terminalLines() {
        return (List<String>) ((JavascriptExecutor) browser).executeScript(
                "return Array.from(document.querySelectorAll('#serial-terminal .xterm-rows > div'))"
                        + ".map(r => r.textContent.replace(/\\u00a0/g, ' ').trim());");
    }

    private static String terminalText() {
        return String.join("\n", terminalLines());
    }

    private static void screenshot(String name) throws IOException {
        File shot = ((org.openqa.selenium.TakesScreenshot) browser).getScreenshotAs(OutputType.FILE);
        Files.copy(shot.toPath(), SCREENSHOTS.resolve(name + ".png"), StandardCopyOption.REPLACE_EXISTING);
    }
}
