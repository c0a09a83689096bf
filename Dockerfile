# syntax=docker/dockerfile:1
# Kompost's container image: `make docker-build IMG=...`.
#
# node:24-slim is the current Node.js LTS on Debian slim; pin its digest in
# your registry mirror if you need reproducible builds.

# Build stage: all dependencies, compile TypeScript into dist/.
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

# Production dependencies only, without npm's cache.
FROM node:24-slim AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:24-slim
ENV NODE_ENV=production \
    NODE_OPTIONS=--enable-source-maps
WORKDIR /app
COPY package.json ./
COPY --from=dependencies /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The distroless "nonroot" UID Kubebuilder uses; the Deployment insists on
# runAsNonRoot with this UID, and nothing here needs to be writable.
USER 65532:65532
# Node runs as PID 1 without an init: the kernel gives PID 1 no default signal
# actions, but cmd/main.ts handles SIGTERM and SIGINT itself (stop taking work,
# finish, release the Lease, exit 0), and the operator starts no child
# processes, so there are no zombies to reap and no need for tini.
# --max-semi-space-size=4: V8's young generation grows to 16 MiB per semi-space
# (48 MiB resident) for a server's allocation rate; a controller allocates
# little between GCs, so 4 MiB keeps that part of the heap small. Only how often
# the young generation is collected changes, not what the process can hold
# (see docs/operating.md, "Memory"). `make bench` starts node with these flags.
ENTRYPOINT ["node", "--max-semi-space-size=4", "dist/cmd/main.js"]
