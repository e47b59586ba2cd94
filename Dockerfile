# syntax=docker/dockerfile:1
# gpumon's container image: one image for every command (agent, consume, analyze, serve, up, ...).
#   docker build -t gpumon:0.1.0 .
#   docker run --rm gpumon:0.1.0 --help
# What the runtime stage copies is checked by test/deploy/dockerfile.test.ts: every file gpumon reads at run
# time (src/paths.ts: package.json, web/, the SQL of the analyses, the .proto files) and nothing else.

# The base of every stage; the Kubernetes tests build on a stand-in made with debootstrap
# (test/cluster-images/build.sh: --build-arg NODE_IMAGE=localhost/gpumon-base/node:<version>-bookworm).
ARG NODE_IMAGE=node:24-bookworm-slim

# Build: every dependency (esbuild included), then the bundle in dist/ that bin/gpumon.js runs.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY scripts/build.mjs scripts/bundle-options.mjs scripts/
COPY src/ src/
RUN node scripts/build.mjs

# Production dependencies only (native modules: DuckDB, koffi, esbuild's binary for the page).
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules/ node_modules/
COPY package.json package-lock.json ./
# bin/gpumon.js runs dist/main.js while it is newer than src/, package.json and these two scripts.
COPY bin/gpumon.js bin/
COPY scripts/build.mjs scripts/bundle-options.mjs scripts/
# Read at run time: the page's sources (bundled by esbuild when first served) and the one module they import
# values from; the SQL files of the daily analytics; the Spark Connect protocol of --engine spark; the
# kubelet's pod-resources protocol of the agent's pod attribution.
COPY web/ web/
COPY src/server/api-types.ts src/server/
COPY src/analytics/queries/ src/analytics/queries/
COPY src/analytics/engines/spark/spark-connect.proto src/analytics/engines/spark/
COPY src/sources/kubernetes/proto/api.proto src/sources/kubernetes/proto/
COPY --from=build /app/dist/ dist/
# The bundle must stay the newest file, or bin/gpumon.js would try to rebuild it from sources it lacks.
# Writable defaults for `docker run` (./data, ./spool); on Kubernetes they are volumes (deploy/kubernetes/).
RUN find dist -type f -exec touch {} + \
  && mkdir -p data spool \
  && chown node:node data spool
# The `node` user of the Node.js images, by number: Kubernetes can then check runAsNonRoot without a runAsUser.
USER 1000:1000
ENTRYPOINT ["node", "bin/gpumon.js"]
CMD ["--help"]
