#!/bin/sh
# The streaming standby of the compose `scale` profile: the first start
# copies the primary with `pg_basebackup -R` (which also writes the
# connection to follow it) through the replication slot `diagd_standby`, so
# the primary keeps the WAL this standby still needs (up to its
# max_slot_wal_keep_size); every start then runs it as a hot standby.
#
# A standby that was down so long that the primary dropped WAL it needed
# cannot catch up ("requested WAL segment has already been removed"):
# remove its volume (`docker compose rm -sv postgres-standby` and
# `docker volume rm <project>_pgstandby`) and start it again; it copies the
# primary afresh. While this standby is down its slot also holds back the
# primary's vacuum (hot_standby_feedback): do not leave it down for long.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    # A slot left by an earlier copy (this standby's volume was removed) is
    # dropped: it may have been invalidated, and it would hold WAL meanwhile.
    # pg_basebackup -C makes it again, reserving WAL from the copy's start.
    until psql -h postgres -U diagd -d diagd -v ON_ERROR_STOP=1 -qc \
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
         WHERE slot_name = 'diagd_standby' AND NOT active" \
        && pg_basebackup -h postgres -U diagd -D "$PGDATA" -R -X stream -C -S diagd_standby --checkpoint=fast; do
        echo "standby: the primary is not ready yet; trying again in 2 s" >&2
        find "$PGDATA" -mindepth 1 -delete
        sleep 2
    done
    chmod 0700 "$PGDATA"
fi
# Long reads (exports, reports) are not cancelled by the primary's vacuum of
# rows they still see; max_connections and max_locks_per_transaction must be
# at least the primary's.
exec postgres -c hot_standby_feedback=on -c max_connections=300 -c max_locks_per_transaction=1024
