#!/bin/sh
# The Bazaar image's entrypoint: runs one process of the mesh, named by the first argument.
#
#   bazaar auth | product | cart | order | admin | payment | notification    a service (gRPC)
#   bazaar edge                                     the public HTTP edge
#   bazaar migrate [service…]                       applies migrations, then exits (all services
#                                                   when none is named)
#   bazaar admin-rebuild                            rebuilds the admin projections from the stream
#   bazaar object-store [s3rver options…]           DEV ONLY: s3rver, the k8s dev overlay's
#                                                   S3-compatible store
#
# `exec` replaces this shell, so SIGTERM from the runtime reaches node itself, which drains and
# exits on its own (tini in front reaps any orphaned children). BAZAAR_ENTRYPOINT_DRY_RUN=1
# prints the command instead of running it, which is how the manifest tests check that every
# command the manifests give names a file that exists.
set -eu

cd "$(dirname "$0")/../.."

usage() {
  echo "usage: bazaar auth|product|cart|order|admin|payment|notification|edge|migrate [service…]|admin-rebuild|object-store" >&2
  exit 64
}

[ $# -ge 1 ] || usage
name=$1
shift
case "$name" in
  auth | product | cart | order | admin | payment | notification) entry="services/$name/main.ts" ;;
  edge) entry="edge/main.ts" ;;
  migrate) entry="deploy/local/migrate.ts" ;;
  admin-rebuild) entry="services/admin/rebuild.ts" ;;
  object-store) entry="node_modules/s3rver/bin/s3rver.js" ;;
  *) usage ;;
esac

if [ "${BAZAAR_ENTRYPOINT_DRY_RUN:-0}" = 1 ]; then
  echo node "$entry" "$@"
  exit 0
fi
exec node "$entry" "$@"
