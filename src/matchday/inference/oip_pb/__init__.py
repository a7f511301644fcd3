"""Generated Open Inference Protocol v2 gRPC messages and service stubs (KServe's grpc_predict_v2.proto).

Regenerate with serving/proto/generate.sh; do not edit the generated modules. The messages are registered in a
private descriptor pool so they coexist with Triton's client, which defines the same `inference.*` names.
"""

__all__: list[str] = []
