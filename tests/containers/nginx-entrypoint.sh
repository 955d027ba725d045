#!/bin/sh
# Entrypoint of the stand-in for the nginx image (tests/containers/local_images.py): what the
# official image's entrypoint does with compose.yaml's settings. With
# NGINX_ENTRYPOINT_LOCAL_RESOLVERS set, NGINX_LOCAL_RESOLVERS is the container's DNS servers
# (15-local-resolvers.envsh); every /etc/nginx/templates/*.template becomes conf.d/<name> with the
# environment's variables, and only those, substituted (20-envsubst-on-templates.sh).
set -eu
if [ -n "${NGINX_ENTRYPOINT_LOCAL_RESOLVERS:-}" ]; then
    NGINX_LOCAL_RESOLVERS=$(awk '$1 == "nameserver" { printf "%s%s", sep, ($2 ~ ":" ? "[" $2 "]" : $2); sep = " " }' /etc/resolv.conf)
    export NGINX_LOCAL_RESOLVERS
fi
defined=$(env | cut -d= -f1 | sed 's/.*/${&}/' | tr '\n' ' ')
for template in /etc/nginx/templates/*.template; do
    [ -f "$template" ] || continue
    envsubst "$defined" < "$template" > "/etc/nginx/conf.d/$(basename "$template" .template)"
done
exec "$@"
