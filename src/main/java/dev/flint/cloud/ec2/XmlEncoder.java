package dev.flint.cloud.ec2;

import java.time.Instant;
import java.util.Base64;
import java.util.List;

import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.core.SdkField;
import software.amazon.awssdk.core.SdkPojo;
import software.amazon.awssdk.core.protocol.MarshallingType;
import software.amazon.awssdk.core.traits.ListTrait;
import software.amazon.awssdk.core.util.SdkAutoConstructList;
import software.amazon.awssdk.core.util.SdkAutoConstructMap;

/**
 * Encodes any SDK response object as EC2 XML, driven only by the model's field metadata: an element is named
 * by the member's {@code unmarshallLocationName} ({@code instancesSet}, {@code keyFingerprint}), a list's
 * items by its list trait's {@code memberLocationName} ({@code item}). The root is
 * {@code <ActionResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">} with a {@code requestId}, and no
 * Result wrapper, as EC2 answers. Members that were never set are left out.
 */
public final class XmlEncoder {
    public static final String NAMESPACE = "http://ec2.amazonaws.com/doc/2016-11-15/";

    private XmlEncoder() {}

    public static String response(String action, String requestId, SdkPojo response) {
        StringBuilder xml = new StringBuilder(512);
        xml.append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<").append(action).append("Response xmlns=\"")
                .append(NAMESPACE).append("\"><requestId>").append(escape(requestId)).append("</requestId>");
        members(xml, response);
        return xml.append("</").append(action).append("Response>").toString();
    }

    /** EC2's error document (note: {@code RequestID}, upper case, unlike a success's {@code requestId}). */
    public static String error(String code, String message, String requestId) {
        return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>" + escape(code)
                + "</Code><Message>" + escape(message) + "</Message></Error></Errors><RequestID>" + escape(requestId)
                + "</RequestID></Response>";
    }

    private static void members(StringBuilder xml, SdkPojo pojo) {
        for (SdkField<?> field : pojo.sdkFields()) {
            Object value = field.getValueOrDefault(pojo);
            if (value == null || value instanceof SdkAutoConstructList<?> || value instanceof SdkAutoConstructMap<?, ?>) continue;
            element(xml, field.unmarshallLocationName(), field, value);
        }
    }

    private static void element(StringBuilder xml, String name, SdkField<?> field, Object value) {
        xml.append('<').append(name).append('>');
        MarshallingType<?> type = field.marshallingType();
        if (type == MarshallingType.LIST) {
            ListTrait list = field.getRequiredTrait(ListTrait.class);
            String member = list.memberLocationName() == null ? "item" : list.memberLocationName();
            for (Object item : (List<?>) value) {
                if (item != null) element(xml, member, list.memberFieldInfo(), item);
            }
        } else if (type == MarshallingType.SDK_POJO) {
            members(xml, (SdkPojo) value);
        } else if (type == MarshallingType.MAP) {
            // EC2's output shapes carry no maps; refuse loudly rather than emit something clients misread.
            throw new IllegalStateException("map member " + name + " in an EC2 response");
        } else {
            xml.append(escape(scalar(value)));
        }
        xml.append("</").append(name).append('>');
    }

    private static String scalar(Object value) {
        return switch (value) {
            case Instant instant -> instant.toString();
            case SdkBytes bytes -> Base64.getEncoder().encodeToString(bytes.asByteArrayUnsafe());
            default -> String.valueOf(value);
        };
    }

    static String escape(String s) {
        StringBuilder out = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            String replacement = switch (c) {
                case '<' -> "&lt;";
                case '>' -> "&gt;";
                case '&' -> "&amp;";
                case '"' -> "&quot;";
                case '\'' -> "&apos;";
                default -> (c < 0x20 && c != '\n' && c != '\r' && c != '\t') || c == 0xFFFE || c == 0xFFFF ? "\uFFFD" : null;
            };
            if (replacement != null && out == null) out = new StringBuilder(s.length() + 16).append(s, 0, i);
            if (out != null) {
                if (replacement != null) out.append(replacement);
                else out.append(c);
            }
        }
        return out == null ? s : out.toString();
    }

}
