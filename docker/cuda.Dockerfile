# The CUDA image: the same single image for every role, built against a CUDA build of LibTorch
# (PONDER_WITH_CUDA: the model on the GPU, NCCL between trainer ranks) on Debian 12 with the
# CUDA toolkit from NVIDIA's Debian 12 repository. The GPU driver comes from the host (the
# NVIDIA container toolkit).
#   docker build -f docker/cuda.Dockerfile -t ponder:cuda .
#   docker run --rm --gpus all ponder:cuda ponder --help
# deploy/k8s/overlays/gpu runs it as ponder:cuda.
ARG CUDA_PACKAGE_VERSION=12-4
ARG LIBTORCH_URL=https://download.pytorch.org/libtorch/cu124/libtorch-cxx11-abi-shared-with-deps-2.5.1%2Bcu124.zip

FROM debian:bookworm AS build
ARG CUDA_PACKAGE_VERSION
ARG LIBTORCH_URL
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl unzip \
    && curl -fsSL -o /tmp/cuda-keyring.deb \
       https://developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64/cuda-keyring_1.1-1_all.deb \
    && dpkg -i /tmp/cuda-keyring.deb && rm /tmp/cuda-keyring.deb \
    && apt-get update && apt-get install -y --no-install-recommends \
       cuda-nvcc-${CUDA_PACKAGE_VERSION} cuda-cudart-dev-${CUDA_PACKAGE_VERSION} \
       libcublas-dev-${CUDA_PACKAGE_VERSION} libcusparse-dev-${CUDA_PACKAGE_VERSION} \
       libcufft-dev-${CUDA_PACKAGE_VERSION} libcurand-dev-${CUDA_PACKAGE_VERSION} \
       libnvjitlink-dev-${CUDA_PACKAGE_VERSION} cuda-nvrtc-dev-${CUDA_PACKAGE_VERSION} \
       cuda-nvtx-${CUDA_PACKAGE_VERSION} \
    && curl -fsSL -o /tmp/libtorch.zip "${LIBTORCH_URL}" \
    && unzip -q /tmp/libtorch.zip -d /opt && rm /tmp/libtorch.zip
COPY scripts/install-deps.sh /src/scripts/install-deps.sh
RUN /src/scripts/install-deps.sh --build-only --without-torch && rm -rf /var/lib/apt/lists/*
COPY . /src
ENV PATH=/usr/local/cuda/bin:${PATH}
RUN cmake -S /src -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPONDER_BUILD_TESTS=OFF \
       -DPONDER_WITH_CUDA=ON -DCMAKE_PREFIX_PATH=/opt/libtorch \
    && cmake --build /build --target ponder -j "$(nproc)"

FROM debian:bookworm-slim
COPY scripts/install-deps.sh /tmp/install-deps.sh
RUN /tmp/install-deps.sh --runtime --without-torch && rm -rf /var/lib/apt/lists/* /tmp/install-deps.sh
COPY --from=build /opt/libtorch/lib /opt/libtorch/lib
COPY --from=build /build/cli/ponder /usr/local/bin/ponder
COPY configs /opt/ponder/configs
ENV LD_LIBRARY_PATH=/opt/libtorch/lib
WORKDIR /runs
CMD ["ponder", "--help"]
