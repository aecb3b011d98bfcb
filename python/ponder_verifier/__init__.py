"""Write a custom Ponder verifier in Python and serve it over gRPC.

A verifier is one function::

    import ponder_verifier

    def score(prompt, response, ground_truth, metadata):
        # return a float, or a dict: {"score": float, "correct": bool, "details": {...}}
        return 1.0 if str(ground_truth) in response else 0.0

    ponder_verifier.serve(score, name="contains", address="127.0.0.1:50070")

``serve`` speaks Ponder's RewardService (proto/ponder/v1/reward.proto), so the trainer or a
``ponder reward`` server uses it through the ``remote`` verifier::

    reward:
      verifiers:
        - name: remote
          options: {address: "127.0.0.1:50070", verifier: contains}

Only Debian's python3-grpcio and python3-protobuf are needed. The RewardService stubs are
generated from the .proto file (see ``_stubs``): by the build into ``build/python`` (put it on
PYTHONPATH, or set PONDER_PYTHON_STUBS), or on first use into ~/.cache/ponder when protoc and
grpc_python_plugin are installed.
"""

from ponder_verifier._server import VerifierServer, serve

__all__ = ["serve", "VerifierServer"]
