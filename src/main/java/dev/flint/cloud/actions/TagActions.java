package dev.flint.cloud.actions;

import dev.flint.cloud.ec2.Ec2Exception;
import dev.flint.cloud.fleet.Ids;
import dev.flint.cloud.model.ImageRecord;
import dev.flint.cloud.model.InstanceRecord;
import dev.flint.cloud.model.KeyPairRecord;
import dev.flint.cloud.model.Keys;
import dev.flint.cloud.model.SnapshotRecord;
import dev.flint.cloud.model.VolumeRecord;
import dev.flint.cloud.fleet.VolumeBook;
import dev.flint.cloud.store.Records;
import dev.flint.cloud.store.Records.Versioned;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import software.amazon.awssdk.services.ec2.model.CreateTagsRequest;
import software.amazon.awssdk.services.ec2.model.CreateTagsResponse;
import software.amazon.awssdk.services.ec2.model.DeleteTagsRequest;
import software.amazon.awssdk.services.ec2.model.DeleteTagsResponse;
import software.amazon.awssdk.services.ec2.model.DescribeTagsRequest;
import software.amazon.awssdk.services.ec2.model.DescribeTagsResponse;
import software.amazon.awssdk.services.ec2.model.Tag;
import software.amazon.awssdk.services.ec2.model.TagDescription;

/**
 * CreateTags, DeleteTags, DescribeTags over every taggable resource: instances ({@code i-}), images
 * ({@code ami-}) and key pairs ({@code key-}). Tags live in each resource's own record, so they go with it.
 */
public final class TagActions {
    private final CloudContext cloud;
    private final Filters<TagDescription> filters;

    public TagActions(CloudContext cloud) {
        this.cloud = cloud;
        Map<String, Function<TagDescription, Collection<String>>> a = new LinkedHashMap<>();
        a.put("key", t -> List.of(t.key()));
        a.put("value", t -> List.of(t.value()));
        a.put("resource-id", t -> List.of(t.resourceId()));
        a.put("resource-type", t -> List.of(t.resourceTypeAsString()));
        this.filters = new Filters<>(a, t -> Map.of(t.key(), t.value()));
    }

    public void register(ActionRegistry registry) {
        registry.add(CreateTagsRequest.class, this::create)
                .add(DeleteTagsRequest.class, this::delete)
                .add(DescribeTagsRequest.class, this::describe);
    }

    private CreateTagsResponse create(CreateTagsRequest q) {
        if (q.resources().isEmpty()) throw Ec2Exception.missingParameter("ResourceId");
        if (q.tags().isEmpty()) throw Ec2Exception.missingParameter("Tag");
        for (Tag tag : q.tags()) TagSupport.check(tag.key(), tag.value());
        for (String id : q.resources()) checkExists(id);
        for (String id : q.resources()) {
            retag(id, tags -> {
                Map<String, String> next = new LinkedHashMap<>(tags);
                for (Tag tag : q.tags()) TagSupport.put(next, tag.key(), tag.value());
                return next;
            });
        }
        return CreateTagsResponse.builder().build();
    }

    /** A tag given with a value is deleted only if the value matches; with no tags at all, every tag goes. */
    private DeleteTagsResponse delete(DeleteTagsRequest q) {
        if (q.resources().isEmpty()) throw Ec2Exception.missingParameter("ResourceId");
        for (String id : q.resources()) checkExists(id);
        for (String id : q.resources()) {
            retag(id, tags -> {
                if (q.tags().isEmpty()) return Map.of();
                Map<String, String> next = new LinkedHashMap<>(tags);
                for (Tag tag : q.tags()) {
                    if (tag.value() == null || tag.value().equals(next.get(tag.key()))) next.remove(tag.key());
                }
                return next;
            });
        }
        return DeleteTagsResponse.builder().build();
    }

    private DescribeTagsResponse describe(DescribeTagsRequest q) {
        List<TagDescription> all = new ArrayList<>();
        for (InstanceRecord r : cloud.fleet().all()) add(all, r.instanceId(), "instance", r.tags());
        for (Versioned<ImageRecord> v : cloud.records().list(Keys.IMAGE, ImageRecord.class)) add(all, v.value().imageId(), "image", v.value().tags());
        for (Versioned<KeyPairRecord> v : KeyPairActions.all(cloud)) add(all, v.value().keyPairId(), "key-pair", v.value().tags());
        for (VolumeRecord v : cloud.fleet().volumes().all()) add(all, v.volumeId(), "volume", v.tags());
        for (Versioned<SnapshotRecord> v : cloud.records().list(Keys.SNAPSHOT, SnapshotRecord.class)) {
            add(all, v.value().snapshotId(), "snapshot", v.value().tags());
        }
        List<TagDescription> chosen = new ArrayList<>(filters.apply(q.filters(), all));
        chosen.sort(Comparator.comparing(TagActions::pageKey));
        Paging.Page<TagDescription> page = Paging.page(chosen, TagActions::pageKey, q.maxResults(), q.nextToken(), 5, 1000);
        return DescribeTagsResponse.builder().tags(page.items()).nextToken(page.nextToken()).build();
    }

    private static String pageKey(TagDescription t) {
        return t.resourceId() + "\u0000" + t.key();
    }

    private static void add(List<TagDescription> out, String id, String type, Map<String, String> tags) {
        tags.forEach((k, v) -> out.add(TagDescription.builder().resourceId(id).resourceType(type).key(k).value(v).build()));
    }

    private void checkExists(String id) {
        boolean found;
        String notFound;
        if (id.startsWith("i-")) {
            InstanceActions.checkId(id);
            found = cloud.fleet().find(id).isPresent();
            notFound = "InvalidInstanceID.NotFound";
        } else if (id.startsWith("ami-")) {
            found = Ids.IMAGE.matcher(id).matches() && cloud.records().get(Keys.IMAGE + id, ImageRecord.class).isPresent();
            notFound = "InvalidAMIID.NotFound";
        } else if (id.startsWith("key-")) {
            found = KeyPairActions.byId(cloud, id).isPresent();
            notFound = "InvalidKeyPair.NotFound";
        } else if (id.startsWith("vol-")) {
            VolumeBook.checkId(id);
            found = cloud.fleet().volumes().find(id).isPresent();
            notFound = "InvalidVolume.NotFound";
        } else if (id.startsWith("snap-")) {
            found = Ids.SNAPSHOT.matcher(id).matches() && cloud.records().get(Keys.SNAPSHOT + id, SnapshotRecord.class).isPresent();
            notFound = "InvalidSnapshot.NotFound";
        } else {
            throw Ec2Exception.client("InvalidID", "The ID '" + id + "' is not valid");
        }
        if (!found) throw Ec2Exception.client(notFound, "The ID '" + id + "' does not exist");
    }

    private void retag(String id, UnaryOperator<Map<String, String>> change) {
        if (id.startsWith("i-")) {
            cloud.fleet().retag(id, change);
        } else if (id.startsWith("ami-")) {
            update(Keys.IMAGE + id, ImageRecord.class, r -> r.withTags(change.apply(r.tags())));
        } else if (id.startsWith("vol-")) {
            cloud.fleet().volumes().retag(id, change);
        } else if (id.startsWith("snap-")) {
            update(Keys.SNAPSHOT + id, SnapshotRecord.class, r -> r.withTags(change.apply(r.tags())));
        } else {
            Versioned<KeyPairRecord> key = KeyPairActions.byId(cloud, id).orElseThrow();
            update(key.key(), KeyPairRecord.class, r -> r.withTags(change.apply(r.tags())));
        }
    }

    private <T> void update(String key, Class<T> type, UnaryOperator<T> change) {
        for (int attempt = 0; attempt < 16; attempt++) {
            Versioned<T> current = cloud.records().get(key, type).orElseThrow(() -> Ec2Exception.client("InvalidID", "The resource " + key + " is gone"));
            if (cloud.records().store().compareAndSet(current.entry(), Records.encode(change.apply(current.value())))) return;
        }
        throw Ec2Exception.internal("the resource " + key + " is being changed by another writer; retry");
    }
}
