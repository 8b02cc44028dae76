"""gRPC server reflection under both `grpc.reflection.v1` and the older `v1alpha`.

grpcio-reflection ships `grpc_reflection.v1` only in newer releases. When it is missing, the v1
service is served by the v1alpha servicer: the two protos differ only in their package name
(same messages, same field numbers), so v1alpha messages parse and answer v1 calls unchanged.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection as v1alpha
from grpc_reflection.v1alpha import reflection_pb2

V1_SERVICE_NAME = "grpc.reflection.v1.ServerReflection"
_V1_FILE = "grpc/reflection/v1/reflection.proto"


def _describe_v1() -> None:
    """Put a v1 copy of the v1alpha file in the default pool, so v1 can describe itself."""
    pool = descriptor_pool.Default()
    try:
        pool.FindFileByName(_V1_FILE)
        return
    except KeyError:
        pass
    proto = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(proto)
    old, new = ".grpc.reflection.v1alpha.", ".grpc.reflection.v1."
    proto.name, proto.package = _V1_FILE, "grpc.reflection.v1"
    proto.ClearField("options")  # v1alpha is marked deprecated; v1 is not
    for message in proto.message_type:
        for field in message.field:
            if field.type_name.startswith(old):
                field.type_name = new + field.type_name[len(old) :]
    for service in proto.service:
        for method in service.method:
            method.input_type = new + method.input_type[len(old) :]
            method.output_type = new + method.output_type[len(old) :]
    pool.AddSerializedFile(proto.SerializeToString())


def _native_v1() -> Any | None:
    try:
        return importlib.import_module("grpc_reflection.v1.reflection")
    except ImportError:
        return None


def enable_reflection(service_names: Sequence[str], server: grpc.aio.Server) -> list[str]:
    """Serve reflection v1 and v1alpha for `service_names`; return every name now listed."""
    names = [*service_names, V1_SERVICE_NAME, v1alpha.SERVICE_NAME]
    native = _native_v1()
    if native is not None:
        native.enable_server_reflection(names, server)
    else:
        _describe_v1()
        bridge = v1alpha.aio.ReflectionServicer(names)
        handler = grpc.stream_stream_rpc_method_handler(
            bridge.ServerReflectionInfo,
            request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
            response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
        )
        methods = {"ServerReflectionInfo": handler}
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(V1_SERVICE_NAME, methods),)
        )
    v1alpha.enable_server_reflection(names, server)
    return names


__all__ = ["V1_SERVICE_NAME", "enable_reflection"]
