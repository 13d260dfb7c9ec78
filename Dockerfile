# syntax=docker/dockerfile:1
# storage-svc, the standalone app (dist/main.js): built with the dev dependencies, run with only
# what it needs at run time. See deploy/README.md.
#
# Node 26: the Active LTS line on 2026-11-29 (LTS since 2026-10-28; 24 is in maintenance).
# better-sqlite3 12.11.1 declares node 20.x-26.x and its release ships prebuilt Node 26 binaries
# for glibc x64/arm64 (built on Debian bookworm, so they run on trixie); sharp 0.34 loads prebuilt
# N-API binaries (@img/sharp-linux-*) on any Node >= 21. Pinned to the major: patch and minor
# releases (security fixes) come with a rebuild. Debian trixie slim, not Alpine: both prebuilt
# binaries need glibc. The two FROM lines below name the same image.
FROM node:26-trixie-slim AS build
# Only used when a native module has no prebuilt binary for this Node/arch: node-gyp compiles it.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY nest-cli.json tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# The run-time node_modules. Nest, TypeORM, the cloud SDKs, sharp and the database drivers are
# peer/dev dependencies of the package (it is a library), so `npm ci --omit=dev` alone would drop
# them: runtime-deps.mjs first moves what dist/ needs into `dependencies` at the lock file's exact
# versions (see the script), then npm installs from the lock file as usual.
FROM build AS runtime-deps
WORKDIR /deps
COPY package.json package-lock.json deploy/runtime-deps.mjs ./
COPY --from=build /app/dist ./dist
RUN node runtime-deps.mjs && npm ci --omit=dev --no-audit --no-fund

FROM node:26-trixie-slim AS runtime
ENV NODE_ENV=production \
  PORT=3000 \
  DATA_DIR=/app/data
WORKDIR /app
COPY --from=runtime-deps /deps/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY config ./config
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 3000
# GET /health/live: unauthenticated, 200 {status:'ok'} once the app serves requests.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health/live').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/main.js"]
