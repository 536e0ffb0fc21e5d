#!/bin/sh
# The streaming standby of the compose `scale` profile: the first start
# copies the primary with `pg_basebackup -R` (which also writes the
# connection to follow it), every start then runs it as a hot standby.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    until pg_basebackup -h postgres -U diagd -D "$PGDATA" -R -X stream --checkpoint=fast; do
        echo "standby: the primary is not ready yet; trying again in 2 s" >&2
        find "$PGDATA" -mindepth 1 -delete
        sleep 2
    done
    chmod 0700 "$PGDATA"
fi
# Long reads (exports, reports) are not cancelled by the primary's vacuum.
exec postgres -c hot_standby_feedback=on
