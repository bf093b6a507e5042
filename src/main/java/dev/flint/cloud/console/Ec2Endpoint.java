package dev.flint.cloud.console;

import java.util.List;
import java.util.Map;

/**
 * One EC2 Query request that the console has already authenticated (by its session and CSRF token, in
 * place of SigV4), run by the very same handlers as the EC2 API on the daemon's listen address.
 *
 * <p>{@code form} holds the parameters exactly as the AWS CLI would send them ({@code Action},
 * {@code Version=2016-11-15}, {@code InstanceId.1}, {@code TagSpecification.1.Tag.1.Key}, ...). The answer
 * is the EC2 XML the API itself would answer, error documents included, so the console shows what
 * {@code aws ec2 describe-instances} shows.
 */
@FunctionalInterface
public interface Ec2Endpoint {

    /** The HTTP status and the EC2 XML document (an {@code ActionResponse}, or {@code Response/Errors}). */
    record Ec2Reply(int status, String xml) {}

    Ec2Reply handle(Map<String, List<String>> form);
}
