package dev.flint.cloud;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.flint.cloud.store.EtcdForTests;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.services.ec2.Ec2Client;
import software.amazon.awssdk.services.ec2.model.Instance;
import software.amazon.awssdk.services.ec2.model.InstanceStateName;

/**
 * A daemon restart: instances whose VMM survived are re-adopted and stay running; those whose VMM died while
 * the daemon was down become stopped with their volumes intact; everything acknowledged is still there. Run
 * on the default SQLite store and on etcd.
 */
class CloudRestartTest {
    @TempDir
    Path temp;

    @Test
    void restartOnSqlite() throws Exception {
        restart(null);
    }

    @Test
    void restartOnEtcd() throws Exception {
        assumeTrue(EtcdForTests.available(), "etcd is not installed (Debian package etcd-server; bin/test installs it)");
        try (EtcdForTests etcd = EtcdForTests.start(temp.resolve("etcd"))) {
            restart(etcd.storeUri());
        }
    }

    private void restart(String storeUri) throws Exception {
        Path data = temp.resolve("data");
        Path image = CloudHarness.ext4Image(temp, "img.ext4");
        List<String> ids;
        String imageId;
        String accessKey;
        Path survivorVolume;
        Path deadVolume;
        try (CloudHarness first = CloudHarness.start(data, 8192, false, List.of(), storeUri); Ec2Client ec2 = first.client()) {
            accessKey = first.daemon.credentials().accessKeyId();
            imageId = ec2.registerImage(r -> r.name("img").imageLocation(image.toString())).imageId();
            ec2.createKeyPair(r -> r.keyName("kept"));
            ids = ec2.runInstances(r -> r.imageId(imageId).instanceType("t3.nano").minCount(3).maxCount(3)).instances()
                    .stream().map(Instance::instanceId).sorted().toList();
            for (String id : ids) await(ec2, id, InstanceStateName.RUNNING);
            ec2.stopInstances(r -> r.instanceIds(ids.get(2)));
            await(ec2, ids.get(2), InstanceStateName.STOPPED);
            survivorVolume = first.runtime.launched.get(ids.get(0)).rootVolume();
            deadVolume = first.runtime.launched.get(ids.get(1)).rootVolume();
        }
        // ids[0]'s VMM outlived the daemon; ids[1]'s died while it was down.
        try (CloudHarness second = CloudHarness.start(data, 8192, false, List.of(ids.get(0)), storeUri); Ec2Client ec2 = second.client()) {
            assertEquals(accessKey, second.daemon.credentials().accessKeyId(), "credentials are made once");
            assertEquals(InstanceStateName.RUNNING, state(ec2, ids.get(0)));
            assertEquals(InstanceStateName.STOPPED, state(ec2, ids.get(1)));
            assertEquals(InstanceStateName.STOPPED, state(ec2, ids.get(2)));
            assertTrue(Files.exists(survivorVolume) && Files.exists(deadVolume), "volumes intact");
            assertEquals("kept", ec2.describeKeyPairs(r -> r.keyNames("kept")).keyPairs().getFirst().keyName());
            assertEquals(imageId, ec2.describeImages(r -> r.imageIds(imageId)).images().getFirst().imageId());
            // The adopted VMM is driven like any other; the dead one starts again on its volume and address.
            ec2.stopInstances(r -> r.instanceIds(ids.get(0)));
            await(ec2, ids.get(0), InstanceStateName.STOPPED);
            String ip = ec2.describeInstances(r -> r.instanceIds(ids.get(1))).reservations().getFirst().instances().getFirst().privateIpAddress();
            ec2.startInstances(r -> r.instanceIds(ids.get(1)));
            await(ec2, ids.get(1), InstanceStateName.RUNNING);
            assertEquals(ip, second.runtime.launched.get(ids.get(1)).privateIp());
            assertEquals(deadVolume, second.runtime.launched.get(ids.get(1)).rootVolume());
            ec2.terminateInstances(r -> r.instanceIds(ids));
            for (String id : ids) await(ec2, id, InstanceStateName.TERMINATED);
        }
    }

    private static InstanceStateName state(Ec2Client ec2, String id) {
        return ec2.describeInstances(r -> r.instanceIds(id)).reservations().getFirst().instances().getFirst().state().name();
    }

    private static void await(Ec2Client ec2, String id, InstanceStateName want) throws InterruptedException {
        CloudHarness.await(id + " " + want, Duration.ofSeconds(30), () -> state(ec2, id) == want);
    }
}
