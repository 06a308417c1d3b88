# registrator's container image: docker build -t registrator .
# Multi-platform: docker buildx build --platform linux/arm64,linux/arm/v7,linux/amd64 -t registrator .
# Everything installed is JavaScript (no native addons), so any Node base of the platform will do.
# The stages carry no --platform=$BUILDPLATFORM (which would spare buildx the emulation of npm ci
# and tsc): the classic builder does not set BUILDPLATFORM and refuses the empty value.
ARG NODE_IMAGE=node:20-alpine

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: "prepare" builds, which needs the sources copied below.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM ${NODE_IMAGE}
WORKDIR /app
ENV NODE_ENV=production
# package.json: --version reads it.
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
# Root, as upstream's image: the Docker socket is root's (or the docker group's, whose id varies by host).
COPY bin ./bin
# The same command as `npx registrator`: node with the flags that keep it small (bin/registrator).
ENTRYPOINT ["/app/bin/registrator"]
