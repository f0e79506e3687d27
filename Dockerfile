# coffre as a container: `docker compose up coffre` (see docker-compose.yml) or
#   docker run --read-only -u 1000:1000 -v /srv/infra:/repo -v ./tokens.yaml:/run/secrets/coffre-tokens:ro \
#     -v ./age-key.txt:/run/secrets/age-key:ro -e SOPS_AGE_KEY_FILE=/run/secrets/age-key -p 127.0.0.1:8080:8080 coffre
# Secrets are files, never variables: the tokens file (COFFRE_TOKENS_FILE below), the age key
# (SOPS_AGE_KEY_FILE) and, with BAO_ADDR, the Vault token (BAO_TOKEN_FILE).
# Node 24 LTS, pinned (Node 20 reached end of life in April 2026); both stages use the same image.
# Build stage: install with dev dependencies, compile, then drop dev dependencies.
FROM node:24.20.0-trixie-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
# --ignore-scripts: the `prepare` script compiles, and the sources are not copied yet.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY src ./src
COPY scripts/bundle.mjs ./scripts/
# tsc, then the start-up bundle dist/cli (bin/coffre.js runs it; see scripts/bundle.mjs)
RUN npx tsc -p tsconfig.json && node scripts/bundle.mjs && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

# Runtime stage: node, git (render checks that targets are git-ignored), the compiled code and prod deps.
FROM node:24.20.0-trixie-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 # The bind-mounted repo belongs to a host user; let git read it without "dubious ownership".
 && git config --system --add safe.directory /repo
WORKDIR /app
ENV NODE_ENV=production \
    COFFRE_LISTEN=0.0.0.0:8080 \
    COFFRE_TOKENS_FILE=/run/secrets/coffre-tokens
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/cli ./dist/cli
COPY package.json ./
COPY bin ./bin
COPY policies ./policies
RUN chmod 0755 /app/bin/coffre.js /app/bin/healthcheck.js && ln -s /app/bin/coffre.js /usr/local/bin/coffre
# The image's unprivileged `node` user (uid 1000); compose may run it as the repo owner's uid instead.
USER node
EXPOSE 8080
# Asks /healthz where serve listens (COFFRE_LISTEN), over HTTPS when COFFRE_TLS_CERT is set.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "/app/bin/healthcheck.js"]
ENTRYPOINT ["coffre"]
CMD ["serve", "-C", "/repo"]
