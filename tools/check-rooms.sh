#!/usr/bin/env bash
# The gateway's rooms (docs/architecture.md) and what each may include. A room includes only the
# public header (<room>/<room>.h) of a room below it, its own headers, and the module headers
# listed for it; s3/ and swift/ never include each other. Prints every violation; exit 1 if any.
set -u
cd "$(dirname "$0")/.."
declare -A ROOMS=(
    [http]=""
    [cluster]=""
    [core]="cluster"
    [iam]="core cluster"
    [s3]="http iam core cluster"
    [swift]="http iam core cluster"
    [console]="http iam core cluster"
)
declare -A MODULES=(
    [http]="og og_buf og_http og_metrics"
    [cluster]="og og_buf og_metrics og_rec og_cdc og_keys og_pool ring node_client"
    [core]="og og_buf og_rec og_cdc og_crypt og_keys"
    [iam]="og og_buf og_rec og_keys og_crypt"
    [s3]="og og_buf og_rec auth"
    [swift]="og og_buf og_rec"
    [console]="og og_buf auth"
)
bad=0
complain() { echo "check-rooms: $1" >&2; bad=1; }
for room in "${!ROOMS[@]}"; do
    for f in gateway/"$room"/*.[ch]; do
        [ -e "$f" ] || continue
        while IFS= read -r inc; do
            if [[ "$inc" == */* ]]; then
                other="${inc%%/*}"; hdr="${inc#*/}"
                [[ " ${ROOMS[$room]} " == *" $other "* ]] || { complain "$f includes \"$inc\": $room/ may not use $other/"; continue; }
                [ "$hdr" = "$other.h" ] || complain "$f includes \"$inc\": only $other/$other.h is public"
            elif [ -e "gateway/$room/$inc" ]; then
                :
            else
                [[ " ${MODULES[$room]} " == *" ${inc%.h} "* ]] || complain "$f includes \"$inc\": not a header $room/ may use"
            fi
        done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
    done
done
# main: the public room headers, and the option table module every program's main uses.
for f in gateway/*.[ch]; do
    while IFS= read -r inc; do
        [ "$inc" = og_conf.h ] && continue
        [[ "$inc" == */* && "${inc#*/}" == "${inc%%/*}.h" ]] || complain "$f includes \"$inc\": main uses public room headers only"
    done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
done
exit $bad
