# The Lifeboat CLI image: what the CronJobs of schedule.k8s.install run (`lifeboat run <runbook>` in
# /workspace). Built from the packed CLI, so the image holds exactly what `npm pack` ships:
#
#   npm ci && npm pack                  # lifeboat-<version>.tgz (prepack builds the bundles)
#   docker build -t lifeboat:<version> .
#
# The build context is the tarball alone (.dockerignore). Push the image where the cluster pulls from
# and give its name to schedule.k8s.install as `image:`.
FROM node:20-slim

# The programs runbooks call: archives, SSH, restic and rclone repositories, PostgreSQL dumps.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tar gzip openssh-client restic rclone postgresql-client \
 && rm -rf /var/lib/apt/lists/*

COPY lifeboat-*.tgz /tmp/
RUN npm install -g --offline --no-audit --no-fund /tmp/lifeboat-*.tgz \
 && rm /tmp/lifeboat-*.tgz \
 && mkdir /workspace \
 && chown 1000:1000 /workspace

# The image's `node` user, by number: a pod with runAsNonRoot can only verify a numeric user.
USER 1000:1000
WORKDIR /workspace
ENTRYPOINT ["lifeboat"]
CMD ["--help"]
