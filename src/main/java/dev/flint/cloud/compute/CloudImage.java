package dev.flint.cloud.compute;

import dev.flint.guest.GuestAssets;
import dev.flint.guest.RootfsImage;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/**
 * The default cloud image, {@code debian-12}: Debian minbase (the host's release, from the host's own apt
 * source) plus an SSH server, sudo and curl, with a small init that does what Debian's cloud images do with
 * cloud-init. Built with Flint's own {@link RootfsImage} and kept in the guest cache under a name derived
 * from its recipe, so a Flint whose init changed builds a fresh one instead of reusing a stale image.
 *
 * <p>The init is busybox's {@code init} (it reaps orphans, turns off the kernel's immediate
 * Ctrl+Alt+Del reboot so the keypress reaches it as SIGINT, and runs the shutdown action before
 * powering off) with an inittab of four entries:
 * <ul>
 *   <li>{@code sysinit}: {@link #BOOT}: file systems, eth0 from {@code flint.ip=}/{@code flint.gw=} on
 *       the kernel command line, the IMDSv2 token, the key into {@code ~admin/.ssh/authorized_keys}, fresh
 *       host keys (ed25519 and ECDSA: an RSA key costs minutes of prime search on the emu engine) and
 *       {@code #!} user-data on the instance's first boot, sshd, then the boot-timer write that tells
 *       Flint the instance is up;</li>
 *   <li>{@code respawn} on {@code ttyS0}: a root shell on the serial console once the boot is done, for
 *       when SSH does not answer (EC2's serial console). Only the host reaches that port: the web console's
 *       signed-in user, with the daemon's own credentials;</li>
 *   <li>{@code ctrlaltdel}: a clean power-off (Firecracker's SendCtrlAltDel is how a stop asks);</li>
 *   <li>{@code shutdown}: {@link #HALT}: stop every process, sync, remount the root read-only.</li>
 * </ul>
 */
public final class CloudImage {
    public static final String NAME = "debian-12";
    /** The image's size; sparse, so it costs only what the tree holds (about 300 MiB). */
    public static final long SIZE_MIB = 2048;

    static final List<String> PACKAGES = List.of(
            "openssh-server", "sudo", "curl", "ca-certificates", "iproute2", "procps", "less");

    /** Run once in the debootstrapped tree: the admin user, no baked-in host keys, sshd's settings. */
    static final String SETUP = """
            set -e
            useradd --create-home --shell /bin/bash --groups sudo --comment "Cloud admin" admin
            # '*': no password, but not "locked" (sshd refuses keys for locked accounts without PAM)
            usermod -p '*' admin
            echo 'admin ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/90-cloud-admin
            chmod 0440 /etc/sudoers.d/90-cloud-admin
            rm -f /etc/ssh/ssh_host_*
            printf 'PasswordAuthentication no\\nKbdInteractiveAuthentication no\\nPermitRootLogin no\\nUseDNS no\\n' \\
                > /etc/ssh/sshd_config.d/50-cloud.conf
            mkdir -p /var/lib/flint
            # minbase has no init package, so no reboot/poweroff/halt: busybox's talk to its init, as a user expects
            for c in reboot poweroff halt; do [ -e /sbin/$c ] || [ -e /usr/sbin/$c ] || ln -s /bin/busybox /usr/sbin/$c; done
            """;

    /**
     * sshd's settings: keys only, the two host key types the first boot makes, and no PAM (its modules
     * add seconds to every login on the emu engine and do nothing here: no passwords, no sessions to log).
     */
    static final String SSHD_CONFIG = """
            HostKey /etc/ssh/ssh_host_ed25519_key
            HostKey /etc/ssh/ssh_host_ecdsa_key
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            PermitRootLogin no
            UseDNS no
            UsePAM no
            """;

    /** /sbin/init: busybox's init, which reads /etc/inittab. */
    static final String INIT = """
            #!/bin/busybox sh
            exec /bin/busybox init
            """;

    static final String INITTAB = """
            ::sysinit:/etc/flint/cloud-boot
            ttyS0::respawn:-/bin/bash
            ::ctrlaltdel:/bin/busybox poweroff
            ::shutdown:/etc/flint/cloud-halt
            """;

    /** The boot script (dash); its output is the serial console, so GetConsoleOutput shows it. */
    static final String BOOT = """
            #!/bin/sh
            export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
            mount -t proc proc /proc
            mount -t sysfs sysfs /sys
            mount -t devtmpfs devtmpfs /dev 2>/dev/null
            mkdir -p /dev/pts /dev/shm /run
            mount -t devpts -o gid=5,mode=620 devpts /dev/pts
            mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
            mount -t tmpfs -o nosuid,nodev tmpfs /dev/shm
            mount -o remount,rw / 2>/dev/null
            ln -sf /proc/self/fd /dev/fd 2>/dev/null
            say() { echo "cloud-boot: [$(cut -d' ' -f1 /proc/uptime)] $*"; }
            hostname localhost

            addr=; gw=
            for arg in $(cat /proc/cmdline); do
              case "$arg" in flint.ip=*) addr=${arg#flint.ip=} ;; flint.gw=*) gw=${arg#flint.gw=} ;; esac
            done
            ip link set lo up
            if [ -n "$addr" ]; then
              ip addr add "$addr" dev eth0
              ip link set eth0 up
              [ -n "$gw" ] && ip route add default via "$gw"
              printf 'nameserver %s\\n' "$gw" > /etc/resolv.conf
              say "eth0 $addr via $gw"
            else
              say "no flint.ip= on the kernel command line; eth0 stays down"
            fi

            IMDS=http://169.254.169.254/latest
            token=
            for i in $(seq 1 30); do
              token=$(curl -sf -m 3 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 21600' "$IMDS/api/token") && break
              sleep 1
            done
            [ -n "$token" ] || say "the metadata service did not answer"
            # GETs with busybox's wget: a static binary starts in a fraction of curl's time on the emu engine.
            imds() { timeout 10 busybox wget -q -O - --header "X-aws-ec2-metadata-token: $token" "$IMDS/$1" 2>/dev/null; }

            id=$(imds meta-data/instance-id)
            name=$(imds meta-data/hostname)
            [ -n "$name" ] && hostname "${name%%.*}" && echo "${name%%.*}" > /etc/hostname
            echo "127.0.1.1 $(hostname)" >> /etc/hosts

            mkdir -p /home/admin/.ssh
            imds meta-data/public-keys/0/openssh-key > /home/admin/.ssh/authorized_keys.new || true
            if [ -s /home/admin/.ssh/authorized_keys.new ]; then
              mv /home/admin/.ssh/authorized_keys.new /home/admin/.ssh/authorized_keys
            else
              rm -f /home/admin/.ssh/authorized_keys.new
            fi
            chmod 700 /home/admin/.ssh; chmod 600 /home/admin/.ssh/authorized_keys 2>/dev/null
            chown -R admin:admin /home/admin/.ssh

            mkdir -p /var/lib/flint
            if [ -n "$id" ] && [ "$(cat /var/lib/flint/instance-id 2>/dev/null)" != "$id" ]; then
              say "first boot of $id"
              rm -f /etc/ssh/ssh_host_*
              for t in ed25519 ecdsa; do
                ssh-keygen -q -t $t -N '' -C "root@$(hostname)" -f /etc/ssh/ssh_host_${t}_key
                ssh-keygen -l -f /etc/ssh/ssh_host_${t}_key.pub
              done
              if imds user-data > /var/lib/flint/user-data && [ "$(head -c 2 /var/lib/flint/user-data)" = '#!' ]; then
                chmod 700 /var/lib/flint/user-data
                say "running user-data"
                /var/lib/flint/user-data 2>&1 | tee /var/log/user-data.log
                say "user-data exited"
              fi
              echo "$id" > /var/lib/flint/instance-id
              sync
            fi
            [ -e /etc/ssh/ssh_host_ed25519_key ] || ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key

            mkdir -p /run/sshd
            /usr/sbin/sshd && say "sshd started"
            say "booted"
            busybox devmem 0xc0000000 8 123
            """;

    /** The shutdown action: busybox init powers off once it returns. */
    static final String HALT = """
            #!/bin/sh
            export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
            echo "cloud-halt: stopping"
            kill -TERM -1 2>/dev/null
            sleep 1
            kill -KILL -1 2>/dev/null
            sync
            umount /dev/shm /dev/pts /run 2>/dev/null
            mount -o remount,ro / && echo "cloud-halt: root file system clean"
            """;

    private final GuestAssets assets;

    public CloudImage(GuestAssets assets) {
        this.assets = assets;
    }

    /** The image in the default guest cache ($FLINT_CACHE, else ~/.cache/flint). */
    public static CloudImage inDefaultCache() {
        return new CloudImage(GuestAssets.open(GuestAssets.defaultCacheDir()));
    }

    /**
     * The {@code debian-12} image in the guest cache, built first if missing (debootstrap and mke2fs: a few
     * minutes the first time, progress lines on {@code progress}). Needs root (debootstrap, chroot). The
     * daemon registers it on its first serve; instances boot copies of it.
     */
    public Path ensureDefaultImage(PrintStream progress) {
        // Instances boot the cached kernel and initramfs too: make sure they are there (a no-op once fetched).
        assets.fetch(progress);
        Path image = assets.cacheDir().resolve("images/" + NAME + "-" + fingerprint() + ".ext4");
        if (Files.isRegularFile(image)) return image;
        progress.println("flint: building the " + NAME + " image (once) into " + image);
        RootfsImage.of(RootfsImage.Flavour.DEBIAN, assets)
                .withDebianPackages(PACKAGES, SETUP)
                .withInit(INIT)
                .withFile("/etc/inittab", INITTAB)
                .withFile("/etc/ssh/sshd_config.d/50-cloud.conf", SSHD_CONFIG)
                .withExecutable("/etc/flint/cloud-boot", BOOT)
                .withExecutable("/etc/flint/cloud-halt", HALT)
                .build(image, SIZE_MIB, false, progress);
        progress.println("flint: " + NAME + " image ready");
        return image;
    }

    /** Short hash of everything the image is made of, so a changed recipe is a new file. */
    static String fingerprint() {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            for (String part : List.of(String.join(",", PACKAGES), SETUP, SSHD_CONFIG, INIT, INITTAB, BOOT, HALT, Long.toString(SIZE_MIB))) {
                sha.update(part.getBytes(StandardCharsets.UTF_8));
                sha.update((byte) 0);
            }
            return HexFormat.of().formatHex(sha.digest(), 0, 6);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
