# syntax=docker/dockerfile:1
# One image for every Session Mesh service; the container command picks the service:
#   node services/edge/dist/main.js       WebSocket edge (the default command)
#   node services/registry/dist/main.js   presence registry
#   node services/admin/dist/main.js      admin API
#   node services/mesh/dist/main.js       all in one process (trying things out, not for clusters)
# Debian bookworm, not Alpine: the uWebSockets.js binary needs glibc, and Node 20 for its ABI (115).
# scripts/check-image-build.sh runs the build stage's steps in a scratch folder in CI (no Docker
# engine there); keep this stage to WORKDIR, COPY of context paths, ENV and RUN.

FROM node:20-bookworm-slim AS build
WORKDIR /app
ENV NODE_ENV=development \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false
# Manifests first, so the dependency layer is rebuilt only when they change.
COPY package.json package-lock.json ./
COPY libs/protocol/package.json libs/protocol/
COPY libs/runtime/package.json libs/runtime/
COPY libs/bus/package.json libs/bus/
COPY libs/auth/package.json libs/auth/
COPY libs/testkit/package.json libs/testkit/
COPY services/edge/package.json services/edge/
COPY services/registry/package.json services/registry/
COPY services/admin/package.json services/admin/
COPY services/mesh/package.json services/mesh/
# Exactly what the lock file says; fails when package.json and the lock disagree.
RUN npm ci --loglevel=error
COPY tsconfig.base.json tsconfig.json ./
COPY libs/ libs/
COPY services/ services/
# Build everything, keep only production dependencies, drop sources, tests (and the test kit) and build caches.
RUN npm run build \
 && npm prune --omit=dev --loglevel=error \
 && rm -rf libs/testkit node_modules/@session-mesh/testkit \
 && rm -rf libs/*/src libs/*/test libs/*/scripts libs/protocol/test-vectors \
           services/*/src services/*/test \
           libs/*/dist/.tsbuildinfo services/*/dist/.tsbuildinfo \
           libs/*/tsconfig.json services/*/tsconfig.json tsconfig.base.json tsconfig.json \
 && find libs services -name '*.map' -delete \
 && node -e "require.resolve('uWebSockets.js')"

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
# Owned by root and read-only to the service user: the app cannot rewrite itself.
COPY --from=build /app /app
# The node image's unprivileged user, numeric so Kubernetes can verify runAsNonRoot.
USER 1000:1000
# Public WebSocket port (edge) 8080, admin API 8081, internal ops port (probes, stats, metrics) 9090.
EXPOSE 8080 8081 9090
# Node runs as PID 1 and handles SIGTERM itself (the edge drains); no shell in between.
CMD ["node", "services/edge/dist/main.js"]
