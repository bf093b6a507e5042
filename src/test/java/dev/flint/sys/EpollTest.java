package dev.flint.sys;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

class EpollTest {
    @Test
    void reportsTheReadySourcesByTheirTokens() {
        try (Epoll epoll = new Epoll(4); EventFd a = new EventFd(); EventFd b = new EventFd()) {
            assertEquals(12, Epoll.EVENT.byteSize(), "struct epoll_event is packed on x86-64");
            epoll.add(a.fd(), Set.of(Epoll.Interest.READABLE), 11);
            epoll.add(b.fd(), Set.of(Epoll.Interest.READABLE), 0x1_0000_0022L);
            assertEquals(List.of(), epoll.await(0), "nothing ready yet");
            b.signal();
            assertEquals(List.of(new Epoll.Ready(0x1_0000_0022L, true, false, false, false)), epoll.await(1000));
            b.drain();
            a.signal();
            b.signal();
            assertEquals(Set.of(11L, 0x1_0000_0022L), epoll.await(1000).stream().map(Epoll.Ready::token)
                    .collect(java.util.stream.Collectors.toSet()));
            epoll.modify(a.fd(), Set.of(Epoll.Interest.READABLE), 33);
            epoll.remove(b.fd());
            assertEquals(List.of(new Epoll.Ready(33, true, false, false, false)), epoll.await(1000));
            a.drain();
            epoll.modify(a.fd(), Set.of(Epoll.Interest.WRITABLE), 44);
            assertTrue(epoll.await(1000).getFirst().writable(), "an eventfd can always take a write");
        }
    }

    @Test
    void aSourceNotAddedOrAddedTwiceIsAOneLineError() {
        try (Epoll epoll = new Epoll(1); EventFd a = new EventFd()) {
            epoll.add(a.fd(), Set.of(Epoll.Interest.READABLE), 1);
            ErrnoException twice = assertThrows(ErrnoException.class, () -> epoll.add(a.fd(), Set.of(Epoll.Interest.READABLE), 1));
            assertEquals(Libc.EEXIST, twice.errno());
            epoll.remove(a.fd());
            assertEquals(Libc.ENOENT, assertThrows(ErrnoException.class, () -> epoll.remove(a.fd())).errno());
        }
    }
}
