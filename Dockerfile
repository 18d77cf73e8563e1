# syntax=docker/dockerfile:1.7
#
# Sentiment inference server image. Stages:
#   deps -> build            npm ci with dev dependencies, then schemas + tsc into dist/
#   model-fetch | model-context   the model, baked in at build time (MODEL_SOURCE picks one)
#   prod-deps                production dependencies only, pruned to this platform's native binaries
#   runtime                  slim, non-root; what Kubernetes runs
#
# Build (model fetched from the Hugging Face hub with the pinned sha256 checks of `npm run model:fetch`):
#   docker build -t project:dev .
# Build with a model directory you already have (no hub access needed at build time):
#   docker build --build-arg MODEL_SOURCE=context \
#     --build-context model-files=model/distilbert-base-uncased-finetuned-sst-2-english -t project:dev .
# The model comes in as a *named* build context because .dockerignore keeps the model directories out of the
# main context, so weights never end up in the layers that COPY the sources.
# Another Hugging Face repository with an ONNX export (model.lock.json is written beside it and verified at start):
#   docker build --build-arg MODEL_REPO=owner/name --build-arg MODEL_REVISION=<commit> \
#     [--build-arg MODEL_FILE=onnx/model.onnx] -t project:dev .
# MODEL_FILE also names the file of a MODEL_SOURCE=context directory (e.g. model.onnx, optimum's layout); unset,
# the service looks for onnx/model_quantized.onnx, onnx/model.onnx, model_quantized.onnx, model.onnx. The baked
# directory keeps its path (MODEL_DIR) whichever model it holds.

# Node 22 LTS: the uWebSockets.js binary (uws-pack 20.0.x) is built for Node 22's ABI (127) only, and Node 20
# is past its end of life. bookworm: glibc 2.36, above the 2.27 that binary needs. Pinned, never latest.
ARG NODE_IMAGE=node:22.23.3-bookworm-slim
# For a fully reproducible base, CI passes the digest it resolved, e.g.
#   --build-arg NODE_DIGEST=@sha256:<64 hex digits>
# Empty: the tag alone (what a local build, and the image test's stand-in base, use).
ARG NODE_DIGEST=
# fetch | context
ARG MODEL_SOURCE=fetch

FROM ${NODE_IMAGE}${NODE_DIGEST} AS deps
WORKDIR /app
# Only the manifests, so this layer is reused until the dependencies change. --ignore-scripts also skips the
# root `prepare` (the sources are not here yet). The dependencies' own install scripts are not needed:
# onnxruntime-node's only fetches CUDA binaries (.npmrc skips it anyway), @scarf/scarf's is telemetry and
# protobufjs's a version notice.
COPY package.json package-lock.json .npmrc ./
RUN --mount=type=cache,target=/root/.npm,sharing=locked \
    npm ci --ignore-scripts --no-audit --no-fund

FROM deps AS build
COPY . .
RUN npm run build

FROM build AS model-fetch
ARG HF_ENDPOINT=https://huggingface.co
ARG MODEL_REPO=
ARG MODEL_REVISION=main
ARG MODEL_FILE=
RUN if [ -n "${MODEL_REPO}" ]; then \
      HF_ENDPOINT="${HF_ENDPOINT}" npm run model:fetch -- --repo "${MODEL_REPO}" --revision "${MODEL_REVISION}" \
        --file "${MODEL_FILE:-onnx/model_quantized.onnx}" --dest model/distilbert-base-uncased-finetuned-sst-2-english; \
    else HF_ENDPOINT="${HF_ENDPOINT}" npm run model:fetch; fi \
 && test -s "model/distilbert-base-uncased-finetuned-sst-2-english/${MODEL_FILE:-onnx/model_quantized.onnx}"

FROM ${NODE_IMAGE}${NODE_DIGEST} AS model-context
ARG MODEL_FILE=
COPY --from=model-files . /app/model/distilbert-base-uncased-finetuned-sst-2-english/
RUN test -s "/app/model/distilbert-base-uncased-finetuned-sst-2-english/${MODEL_FILE:-onnx/model_quantized.onnx}"

FROM model-${MODEL_SOURCE} AS model

FROM ${NODE_IMAGE}${NODE_DIGEST} AS prod-deps
# BuildKit sets it (amd64, arm64); the prune below keeps only this architecture's native binaries.
ARG TARGETARCH
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# The packages ship prebuilt binaries for every OS and CPU (onnxruntime-node alone is ~290 MB); keeping only
# linux/<arch> (and uWS only for this Node's ABI) makes the image several hundred MB smaller, which is pull
# time on every scale-up.
# Type declarations go too: protobufjs (under @grpc/proto-loader) lists @types/node among its dependencies, but
# nothing loads a .d.ts at run time, and the runtime carries no dev dependency.
# The final import proves the pruned binaries still load on this glibc before the image is ever pushed.
RUN --mount=type=cache,target=/root/.npm,sharing=locked \
    npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && case "${TARGETARCH:-amd64}" in amd64) arch=x64 ;; arm64) arch=arm64 ;; *) echo "unsupported TARGETARCH ${TARGETARCH}" >&2; exit 1 ;; esac \
 && find node_modules/onnxruntime-node/bin -mindepth 2 -maxdepth 2 ! -name linux -exec rm -rf {} + \
 && find node_modules/onnxruntime-node/bin -mindepth 3 -maxdepth 3 -path '*/linux/*' ! -name "${arch}" -exec rm -rf {} + \
 && find node_modules/tokenizers -maxdepth 1 -name '*.node' ! -name "tokenizers.linux-${arch}-gnu.node" -delete \
 && find node_modules/uWebSockets.js/dist/bin -name '*.node' ! -name "uws_linux_${arch}_$(node -p process.versions.modules).node" -delete \
 && rm -rf node_modules/@types \
 && node --input-type=module -e "await import('uWebSockets.js'); await import('onnxruntime-node'); await import('tokenizers');"

FROM ${NODE_IMAGE}${NODE_DIGEST} AS runtime
ARG MODEL_FILE=
# MALLOC_MMAP_THRESHOLD_: glibc serves allocations of 64 KiB and more with their own mmap and gives them back on
# free. Its default threshold rises to the largest block freed, so after ONNX Runtime released a session (a
# change of thread layout, a re-created arena) the next one's blocks came from the heap and stayed resident:
# +100-200 MiB per change (docs/performance.md, "Latency at every load").
ENV NODE_ENV=production \
    MALLOC_MMAP_THRESHOLD_=65536 \
    MODEL_DIR=/app/model/distilbert-base-uncased-finetuned-sst-2-english \
    MODEL_FILE=${MODEL_FILE}
WORKDIR /app
# Everything stays owned by root and read-only to the app user: the process cannot rewrite its own code or model.
COPY --from=prod-deps /app/node_modules ./node_modules
COPY package.json ./
COPY --from=build /app/dist ./dist
# The gRPC server loads its .proto files at run time from the package root's schemas/grpc (src/grpc/protos.ts).
COPY --from=build /app/schemas/grpc ./schemas/grpc
# The pin (repo, revision, sha256) the baked model was fetched against, kept for provenance.
COPY --from=build /app/model/manifest.json ./model/manifest.json
COPY --from=model /app/model/distilbert-base-uncased-finetuned-sst-2-english ./model/distilbert-base-uncased-finetuned-sst-2-english
# uid 1000 is the image's `node` user; numeric so Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
# PORT (HTTP) and GRPC_PORT (gRPC).
EXPOSE 8000 8001
# Exec form: node is PID 1 and receives SIGTERM itself (a shell would swallow it), so the drain runs.
CMD ["node", "dist/src/main.js"]
