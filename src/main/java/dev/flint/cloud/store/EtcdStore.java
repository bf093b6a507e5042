package dev.flint.cloud.store;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.Txn;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.kv.TxnResponse;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.CmpTarget;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.DeleteOption;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.PutOption;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The store on etcd (v3 API through jetcd), for control planes that share state between hosts. A version is
 * the key's mod revision; a commit is one etcd transaction whose guards compare every key's mod revision
 * (0 for "absent") and whose success branch does all the puts and deletes, so it is atomic across keys. All
 * keys live under a prefix ({@code /flint/cloud/} by default) so the cluster can hold other things.
 */
public final class EtcdStore implements CloudStore {
    private static final long TIMEOUT_SECONDS = 15;
    private final Client client;
    private final KV kv;
    private final String endpoint;
    private final String root;

    private EtcdStore(Client client, String endpoint, String root) {
        this.client = client;
        this.kv = client.getKVClient();
        this.endpoint = endpoint;
        this.root = root;
    }

    /** Connects to {@code endpoint} (e.g. {@code http://127.0.0.1:2379}); keys go under {@code root}. */
    public static EtcdStore connect(String endpoint, String root) {
        Client client = Client.builder().endpoints(endpoint).build();
        EtcdStore store = new EtcdStore(client, endpoint, root);
        try {
            store.get("_probe"); // fail now, with one line, rather than at the first request
        } catch (RuntimeException e) {
            client.close();
            throw e;
        }
        return store;
    }

    private ByteSequence bytes(String key) {
        return ByteSequence.from(root + key, StandardCharsets.UTF_8);
    }

    private Entry entry(KeyValue kv) {
        String key = kv.getKey().toString(StandardCharsets.UTF_8).substring(root.length());
        return new Entry(key, kv.getValue().getBytes(), kv.getModRevision());
    }

    @Override
    public Optional<Entry> get(String key) {
        GetResponse response = await(kv.get(bytes(key)), "read " + key);
        return response.getKvs().isEmpty() ? Optional.empty() : Optional.of(entry(response.getKvs().getFirst()));
    }

    @Override
    public List<Entry> list(String prefix) {
        GetOption option = GetOption.builder().isPrefix(true).withSortField(GetOption.SortTarget.KEY)
                .withSortOrder(GetOption.SortOrder.ASCEND).build();
        GetResponse response = await(kv.get(bytes(prefix), option), "list " + prefix);
        List<Entry> out = new ArrayList<>(response.getKvs().size());
        for (KeyValue keyValue : response.getKvs()) out.add(entry(keyValue));
        return out;
    }

    @Override
    public boolean commit(List<Write> writes) {
        SqliteStore.checkDistinct(writes);
        List<Cmp> guards = new ArrayList<>();
        List<Op> ops = new ArrayList<>();
        for (Write w : writes) {
            ByteSequence key = bytes(w.key());
            if (w.expectedVersion() != ANY) guards.add(new Cmp(key, Cmp.Op.EQUAL, CmpTarget.modRevision(w.expectedVersion())));
            ops.add(w.value() == null ? Op.delete(key, DeleteOption.DEFAULT) : Op.put(key, ByteSequence.from(w.value()), PutOption.DEFAULT));
        }
        Txn txn = kv.txn().If(guards.toArray(Cmp[]::new)).Then(ops.toArray(Op[]::new));
        TxnResponse response = await(txn.commit(), "commit");
        return response.isSucceeded();
    }

    private static <T> T await(java.util.concurrent.CompletableFuture<T> future, String what) {
        try {
            return future.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StoreFailure("etcd: interrupted during " + what, e);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause() == null ? e : e.getCause();
            throw new StoreFailure("etcd: cannot " + what + ": " + cause.getMessage(), cause);
        } catch (TimeoutException e) {
            future.cancel(true);
            throw new StoreFailure("etcd: no answer within " + TIMEOUT_SECONDS + " s to " + what, e);
        }
    }

    @Override
    public String describe() { return "etcd " + endpoint + " under " + root; }

    @Override
    public void close() {
        client.close();
    }
}
