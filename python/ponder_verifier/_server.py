"""The RewardService server around a user's score function."""

import concurrent.futures
import hmac
import math
import sys
import threading
import time
import traceback

import grpc
from google.protobuf import struct_pb2

from ponder_verifier import _stubs

reward_pb2, reward_pb2_grpc = _stubs.load()

# absl / gRPC status codes used in per-item errors.
_INVALID_ARGUMENT = 3
_DEADLINE_EXCEEDED = 4
_INTERNAL = 13
_UNKNOWN = 2


def _value_to_py(value):
    kind = value.WhichOneof("kind")
    if kind is None or kind == "null_value":
        return None
    if kind == "bool_value":
        return value.bool_value
    if kind == "number_value":
        number = value.number_value
        # Whole numbers come back as ints (a Value only holds doubles), like the C++ side.
        if math.isfinite(number) and number == int(number) and abs(number) <= 2**53:
            return int(number)
        return number
    if kind == "string_value":
        return value.string_value
    if kind == "list_value":
        return [_value_to_py(v) for v in value.list_value.values]
    return {k: _value_to_py(v) for k, v in value.struct_value.fields.items()}


def _py_to_value(obj, value):
    if obj is None:
        value.null_value = struct_pb2.NULL_VALUE
    elif isinstance(obj, bool):
        value.bool_value = obj
    elif isinstance(obj, (int, float)):
        value.number_value = float(obj)
    elif isinstance(obj, str):
        value.string_value = obj
    elif isinstance(obj, (list, tuple)):
        value.list_value.SetInParent()
        for item in obj:
            _py_to_value(item, value.list_value.values.add())
    elif isinstance(obj, dict):
        value.struct_value.SetInParent()
        for key, item in obj.items():
            _py_to_value(item, value.struct_value.fields[str(key)])
    else:
        value.string_value = str(obj)


def _fill_result(result, returned):
    """Copies what score() returned into a ScoreResult; raises TypeError on a bad shape."""
    if isinstance(returned, bool) or not isinstance(returned, (int, float, dict)):
        raise TypeError(f"score() returned {type(returned).__name__}; expected a number or a "
                        "dict with 'score' (and optional 'correct', 'details')")
    if not isinstance(returned, dict):
        result.score = float(returned)
        return
    if "score" not in returned or isinstance(returned["score"], bool) or not isinstance(
            returned["score"], (int, float)):
        raise TypeError("score() returned a dict without a numeric 'score'")
    unknown = set(returned) - {"score", "correct", "details"}
    if unknown:
        raise TypeError(f"score() returned unknown keys {sorted(unknown)}; use 'details' for "
                        "extra information")
    result.score = float(returned["score"])
    correct = returned.get("correct")
    if correct is not None:
        result.correct = (reward_pb2.CORRECTNESS_CORRECT if correct else
                          reward_pb2.CORRECTNESS_INCORRECT)
    details = returned.get("details")
    if details is not None:
        if not isinstance(details, dict):
            raise TypeError("score() returned 'details' that is not a dict")
        for key, item in details.items():
            _py_to_value(item, result.details.fields[str(key)])


class _Servicer(reward_pb2_grpc.RewardServiceServicer):

    def __init__(self, score, name, description, token, item_workers):
        self._score = score
        self._name = name
        self._description = description
        self._token = token
        self._items = concurrent.futures.ThreadPoolExecutor(max_workers=item_workers)

    def _authorized(self, request_token, context):
        if not self._token:
            return True
        if request_token:
            return hmac.compare_digest(request_token, self._token)
        for key, value in context.invocation_metadata():
            if key == "authorization" and value.startswith("Bearer "):
                return hmac.compare_digest(value[len("Bearer "):], self._token)
        return False

    def _score_item(self, item):
        started = time.monotonic()
        result = reward_pb2.ScoreResult(id=item.id)
        try:
            returned = self._score(item.prompt, item.response, _value_to_py(item.ground_truth),
                                   {k: _value_to_py(v) for k, v in item.metadata.fields.items()})
            _fill_result(result, returned)
        except TypeError as error:
            result = reward_pb2.ScoreResult(id=item.id)
            code = _INTERNAL if "score() returned" in str(error) else _INVALID_ARGUMENT
            result.error.code = code
            result.error.message = f"{self._name}: {error}"
        except Exception as error:  # the user's verifier failed on this item
            result = reward_pb2.ScoreResult(id=item.id)
            result.error.code = _INVALID_ARGUMENT if isinstance(error, ValueError) else _UNKNOWN
            where = traceback.extract_tb(error.__traceback__)[-1]
            result.error.message = (f"{self._name}: {type(error).__name__}: {error} "
                                    f"({where.filename}:{where.lineno})")
        result.seconds = time.monotonic() - started
        return result

    def Score(self, request, context):
        if not self._authorized(request.token, context):
            context.abort(grpc.StatusCode.UNAUTHENTICATED,
                          "this verifier requires a token (ScoreRequest.token or "
                          "'authorization: Bearer <token>')")
        if request.verifier not in ("", self._name):
            context.abort(grpc.StatusCode.NOT_FOUND,
                          f"unknown verifier '{request.verifier}' (this server has "
                          f"'{self._name}')")
        timeout = request.timeout_s if request.timeout_s > 0 else None
        futures = [self._items.submit(self._score_item, item) for item in request.items]
        response = reward_pb2.ScoreResponse()
        deadline = None if timeout is None else time.monotonic() + timeout
        for item, future in zip(request.items, futures):
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                response.results.append(future.result(timeout=left))
            except concurrent.futures.TimeoutError:
                late = response.results.add(id=item.id, seconds=timeout)
                late.error.code = _DEADLINE_EXCEEDED
                late.error.message = f"{self._name}: scoring took longer than {timeout:g}s"
        return response

    def ListVerifiers(self, request, context):
        if not self._authorized("", context):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "this verifier requires a token")
        return reward_pb2.ListVerifiersResponse(verifiers=[
            reward_pb2.VerifierInfo(name=self._name, description=self._description)])


def _health_check(request, context):
    return b"\x08\x01"  # grpc.health.v1.HealthCheckResponse{status: SERVING}


class VerifierServer:
    """A running verifier server: .address ("host:port"), .port, .stop(), .wait()."""

    def __init__(self, server, address, port):
        self._server = server
        self.address = address
        self.port = port
        self._stopped = threading.Event()

    def stop(self, grace=1.0):
        self._server.stop(grace).wait()
        self._stopped.set()

    def wait(self):
        self._server.wait_for_termination()


def serve(score, name="custom", description="", address="127.0.0.1:0", token=None,
          max_workers=8, block=True):
    """Serves `score(prompt, response, ground_truth, metadata)` as a RewardService.

    Prints "ponder_verifier: serving NAME on HOST:PORT" when ready. With block=True it runs
    until interrupted; with block=False it returns the VerifierServer.
    """
    if not callable(score):
        raise TypeError("serve() needs a score(prompt, response, ground_truth, metadata) function")
    host, _, port_text = address.rpartition(":")
    if not host or not port_text.isdigit():
        raise ValueError(f"address '{address}' must be HOST:PORT, e.g. 127.0.0.1:50070")
    server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=max_workers),
                         options=[("grpc.max_receive_message_length", 256 << 20),
                                  ("grpc.max_send_message_length", 256 << 20)])
    reward_pb2_grpc.add_RewardServiceServicer_to_server(
        _Servicer(score, name, description, token, max_workers), server)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "grpc.health.v1.Health", {
            "Check": grpc.unary_unary_rpc_method_handler(
                _health_check, request_deserializer=lambda b: b,
                response_serializer=lambda b: b)
        }),))
    port = server.add_insecure_port(address)
    if port == 0:
        raise OSError(f"cannot listen on {address}")
    server.start()
    bound = f"{host}:{port}"
    print(f"ponder_verifier: serving {name} on {bound}" + (" (token required)" if token else ""),
          flush=True)
    running = VerifierServer(server, bound, port)
    if not block:
        return running
    try:
        running.wait()
    except KeyboardInterrupt:
        running.stop()
    return running
