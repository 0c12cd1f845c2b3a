# Build stage: compiles TypeScript and the better-sqlite3 addon, bundles the admin page (into
# dist/http/admin) and the invite page (into dist/invitePage), then drops dev dependencies.
FROM node:24-bookworm-slim AS build
WORKDIR /app
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
# Dependencies first, in their own layer: a change in src/ does not recompile the SQLite addon.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts && npm rebuild better-sqlite3
COPY tsconfig.json ./
COPY src ./src
COPY web ./web
COPY scripts/buildAdminPage.ts scripts/buildInvitePage.ts ./scripts/
RUN npm run build && npm prune --omit=dev

# Runtime stage: only what `invites-api serve` needs, as an unprivileged user.
FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production \
    HTTP_HOST=0.0.0.0 \
    HTTP_PORT=8080 \
    KEY_STORE=/data/keys.sqlite
COPY package.json ./
COPY bin ./bin
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
RUN mkdir /data && chown node:node /data
USER node
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/ready').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "--max-semi-space-size=4", "--max-old-space-size=64", "bin/invites-api.js"]
CMD ["serve"]
