/* Flint's vsock test program for the guest (built with gcc -static at test time).
 *   vsock-probe listen PORT            accept streams on PORT and echo each back until its EOF
 *   vsock-probe connect PORT N BYTES   N streams at once to the host (CID 2) PORT: each sends BYTES of a
 *                                      pattern, half-closes, reads the echo back and checks it */
#include <linux/vm_sockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static unsigned char pattern(long i, int seed) { return (unsigned char) (i * 7 + seed); }

static int echo(int fd) {
    static char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) return (int) n;
        for (char *p = buf; n > 0;) {
            ssize_t w = write(fd, p, n);
            if (w <= 0) return -1;
            p += w;
            n -= w;
        }
    }
}

static int client(int port, long bytes, int seed) {
    int s = socket(AF_VSOCK, SOCK_STREAM, 0);
    struct sockaddr_vm a;
    memset(&a, 0, sizeof a);
    a.svm_family = AF_VSOCK;
    a.svm_cid = VMADDR_CID_HOST;
    a.svm_port = port;
    if (s < 0 || connect(s, (struct sockaddr *) &a, sizeof a) != 0) { perror("vsock-probe: connect"); return 1; }
    pid_t writer = fork();
    if (writer == 0) {
        static unsigned char buf[4096];
        for (long sent = 0; sent < bytes;) {
            int n = 0;
            while (n < (int) sizeof buf && sent + n < bytes) { buf[n] = pattern(sent + n, seed); n++; }
            for (int off = 0; off < n;) {
                ssize_t w = write(s, buf + off, n - off);
                if (w <= 0) _exit(2);
                off += w;
            }
            sent += n;
        }
        shutdown(s, SHUT_WR);
        _exit(0);
    }
    static unsigned char in[65536];
    long got = 0;
    int bad = 0;
    for (;;) {
        ssize_t n = read(s, in, sizeof in);
        if (n <= 0) break;
        for (ssize_t i = 0; i < n; i++) if (in[i] != pattern(got + i, seed)) bad = 1;
        got += n;
    }
    int status;
    waitpid(writer, &status, 0);
    close(s);
    if (got != bytes || bad || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "vsock-probe: stream %d got %ld of %ld bytes%s\n", seed, got, bytes, bad ? ", corrupted" : "");
        return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "listen") == 0) {
        int s = socket(AF_VSOCK, SOCK_STREAM, 0);
        struct sockaddr_vm a;
        memset(&a, 0, sizeof a);
        a.svm_family = AF_VSOCK;
        a.svm_cid = VMADDR_CID_ANY;
        a.svm_port = atoi(argv[2]);
        if (s < 0 || bind(s, (struct sockaddr *) &a, sizeof a) != 0 || listen(s, 64) != 0) {
            perror("vsock-probe: listen");
            return 1;
        }
        signal(SIGCHLD, SIG_IGN);
        printf("vsock-probe: listening on %s\n", argv[2]);
        fflush(stdout);
        for (;;) {
            int c = accept(s, NULL, NULL);
            if (c < 0) continue;
            if (fork() == 0) { echo(c); _exit(0); }
            close(c);
        }
    }
    if (argc == 5 && strcmp(argv[1], "connect") == 0) {
        int port = atoi(argv[2]), n = atoi(argv[3]);
        long bytes = atol(argv[4]);
        for (int i = 0; i < n; i++) if (fork() == 0) _exit(client(port, bytes, i));
        int ok = 0;
        for (int i = 0; i < n; i++) {
            int status;
            if (wait(&status) > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) ok++;
        }
        printf("vsock-probe: %d of %d streams echoed\n", ok, n);
        return ok == n ? 0 : 1;
    }
    fprintf(stderr, "usage: vsock-probe listen PORT | connect PORT STREAMS BYTES\n");
    return 2;
}
