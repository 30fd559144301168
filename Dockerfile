# fastmig's orchestrator and host agents as one image, for docker-compose.yml (needs a registry
# for the base image). The CRIU bundle and the container runtime bundle are built at image build
# time by the same scripts `fastmig stack up` uses.
FROM node:20-bookworm-slim
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update && apt-get install -y --no-install-recommends \
      ca-certificates util-linux iproute2 iptables tar gzip busybox-static docker.io \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/fastmig
COPY package.json package-lock.json tsconfig.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
# Every folder tsconfig.json compiles (test/compose.test.ts keeps the two lists equal).
COPY common common
COPY image image
COPY daemon daemon
COPY agent agent
COPY activities activities
COPY workflows workflows
COPY workers workers
COPY cli cli
COPY client client
COPY stack stack
COPY demo demo
COPY api api
COPY bench bench
COPY bin bin
COPY scripts scripts
RUN npx tsc -p tsconfig.json \
    && bash scripts/install-criu.sh \
    && bash scripts/build-bundle.sh /opt/fastmig/.tools/bundle
ENV FASTMIG_HOME=/var/lib/fastmig
ENTRYPOINT ["bash", "scripts/compose-entrypoint.sh"]
CMD ["orchestrator"]
