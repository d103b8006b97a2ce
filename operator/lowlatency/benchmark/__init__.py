"""Load generation against SageMaker real-time endpoints: SigV4-signed InvokeEndpoint requests, closed and open loop,
latencies in mergeable HdrHistograms. No kopf here: the operator and the command line both use it."""
