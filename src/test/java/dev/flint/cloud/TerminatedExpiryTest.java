package dev.flint.cloud;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.services.ec2.Ec2Client;
import software.amazon.awssdk.services.ec2.model.Ec2Exception;
import software.amazon.awssdk.services.ec2.model.Instance;
import software.amazon.awssdk.services.ec2.model.InstanceStateName;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A terminated instance stays listed for an hour, as on EC2, and is then forgotten: its id is unknown, its
 * ClientToken launches anew, and the runtime drops what it kept of it. The hour is crossed by handing the
 * sweep a later "now" rather than by waiting.
 */
class TerminatedExpiryTest {
    private static final Duration WAIT = Duration.ofSeconds(30);

    @TempDir Path temp;
    private CloudHarness cloud;
    private Ec2Client ec2;
    private String imageId;

    @BeforeEach
    void start() throws Exception {
        cloud = CloudHarness.start(temp.resolve("data"), 64 * 1024, false, List.of());
        ec2 = cloud.client();
        Path image = CloudHarness.ext4Image(temp, "base.ext4");
        imageId = ec2.registerImage(r -> r.name("base").imageLocation(image.toString())).imageId();
    }

    @AfterEach
    void stop() {
        if (ec2 != null) ec2.close();
        if (cloud != null) cloud.close();
    }

    private Instance describe(String id) {
        return ec2.describeInstances(r -> r.instanceIds(id)).reservations().getFirst().instances().getFirst();
    }

    private List<String> listed() {
        return ec2.describeInstances().reservations().stream().flatMap(r -> r.instances().stream()).map(Instance::instanceId).toList();
    }

    @Test
    void aTerminatedInstanceIsListedForAnHourThenForgotten() throws Exception {
        String gone = ec2.runInstances(r -> r.imageId(imageId).minCount(1).maxCount(1).clientToken("expiry")).instances().getFirst().instanceId();
        String kept = ec2.runInstances(r -> r.imageId(imageId).minCount(1).maxCount(1)).instances().getFirst().instanceId();
        CloudHarness.await("running", WAIT, () -> describe(gone).state().name() == InstanceStateName.RUNNING
                && describe(kept).state().name() == InstanceStateName.RUNNING);
        ec2.terminateInstances(r -> r.instanceIds(gone));
        CloudHarness.await(gone + " terminated", WAIT, () -> describe(gone).state().name() == InstanceStateName.TERMINATED);
        Instant terminated = Instant.now();

        assertEquals(List.of(), cloud.daemon.forgetTerminated(terminated.plus(Duration.ofMinutes(59))));
        assertEquals(InstanceStateName.TERMINATED, describe(gone).state().name(), "still listed within the hour");

        assertEquals(List.of(gone), cloud.daemon.forgetTerminated(terminated.plus(Duration.ofMinutes(61))));
        Ec2Exception unknown = assertThrows(Ec2Exception.class, () -> describe(gone));
        assertEquals("InvalidInstanceID.NotFound", unknown.awsErrorDetails().errorCode());
        assertEquals(List.of(kept), listed(), "the running instance is untouched");
        assertEquals(InstanceStateName.RUNNING, describe(kept).state().name());
        assertTrue(cloud.runtime.forgotten.contains(gone));
        assertFalse(cloud.runtime.forgotten.contains(kept));

        String again = ec2.runInstances(r -> r.imageId(imageId).minCount(1).maxCount(1).clientToken("expiry")).instances().getFirst().instanceId();
        assertNotEquals(gone, again, "a forgotten instance's ClientToken launches a new one");
        ec2.terminateInstances(r -> r.instanceIds(kept, again));
    }
}
