/**
 * Options for every AWS client the functions create: a connection that cannot be opened fails in seconds
 * instead of waiting out the Lambda timeout. That is what a function in private subnets without a NAT gateway
 * or VPC endpoints meets: without these, the SDK's socket waits until the invocation times out, and the release
 * fails minutes later with a generic timeout naming nothing.
 */
export const AWS_CLIENT_OPTIONS = {
  requestHandler: {
    /** Milliseconds to open the TCP connection (and TLS) to the service endpoint. */
    connectionTimeout: 3_000,
    /** Milliseconds the whole request and response may take. */
    requestTimeout: 30_000,
    /**
     * Without it a breached requestTimeout only logs (@smithy/types NodeHttpHandlerOptions: "If exceeded, a warning
     * will be emitted unless throwOnRequestTimeout=true, in which case a TimeoutError will be thrown").
     */
    throwOnRequestTimeout: true,
  },
} as const;
