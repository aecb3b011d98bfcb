#!/usr/bin/python3
"""An example custom verifier: the response must mention every required keyword.

ground_truth: a list of keywords (or one string). Score: the fraction of keywords found
(case-insensitive); correct when all are. Details name the missing ones.

Run it (from the repository root, after building):
    PYTHONPATH=build/python:python /usr/bin/python3 examples/python_verifier/keyword_verifier.py \
        --listen 127.0.0.1:50070
then point a `remote` verifier at it:
    reward:
      verifiers:
        - name: remote
          options: {address: "127.0.0.1:50070", verifier: keywords}
or try it with `ponder verify --verifier remote --options '{address: "127.0.0.1:50070"}' ...`.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))

import ponder_verifier  # noqa: E402


def score(prompt, response, ground_truth, metadata):
    if isinstance(ground_truth, str):
        keywords = [ground_truth]
    elif isinstance(ground_truth, list) and all(isinstance(k, str) for k in ground_truth):
        keywords = ground_truth
    else:
        raise ValueError("ground_truth must be a keyword or a list of keywords")
    if not keywords:
        raise ValueError("ground_truth lists no keywords")
    text = response.lower()
    missing = [k for k in keywords if k.lower() not in text]
    found = len(keywords) - len(missing)
    return {"score": found / len(keywords), "correct": not missing,
            "details": {"missing": missing, "found": found}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="127.0.0.1:50070", help="HOST:PORT (port 0: any)")
    parser.add_argument("--token", default=os.environ.get("PONDER_REWARD_TOKEN"),
                        help="shared secret clients must send")
    args = parser.parse_args()
    ponder_verifier.serve(score, name="keywords",
                          description="fraction of required keywords in the response",
                          address=args.listen, token=args.token)


if __name__ == "__main__":
    main()
