# The CPU image: one image for every role, chosen by the command
# (`ponder train | rollout | reward | sft | eval ...`), on Debian 12 with Debian's LibTorch.
#   docker build -f docker/cpu.Dockerfile -t ponder:cpu .
#   docker run --rm ponder:cpu ponder --help
# deploy/k8s/overlays/cpu runs it as ponder:cpu.

FROM debian:bookworm AS build
COPY scripts/install-deps.sh /src/scripts/install-deps.sh
RUN /src/scripts/install-deps.sh --build-only && rm -rf /var/lib/apt/lists/*
COPY . /src
RUN cmake -S /src -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPONDER_BUILD_TESTS=OFF \
    && cmake --build /build --target ponder -j "$(nproc)"

FROM debian:bookworm-slim
COPY scripts/install-deps.sh /tmp/install-deps.sh
RUN /tmp/install-deps.sh --runtime && rm -rf /var/lib/apt/lists/* /tmp/install-deps.sh
COPY --from=build /build/cli/ponder /usr/local/bin/ponder
COPY configs /opt/ponder/configs
WORKDIR /runs
CMD ["ponder", "--help"]
