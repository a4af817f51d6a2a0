#!/usr/bin/env bash
# pg-server.sh: a throwaway PostgreSQL server for the tests.
#
#   pg-server.sh start <dir> [--tcp] [--durable]
#                                      initdb in <dir>/data, start, create database "sirt",
#                                      print the libpq URI (also written to <dir>/uri)
#   pg-server.sh stop <dir>            stop (-m immediate) and remove <dir>
#   pg-server.sh uri <dir>             print the URI of a running server
#
# <dir> must be absent or empty (it is created; keep it short: the socket
# path <dir>/.s.PGSQL.<port> must fit in 107 bytes).  The server listens on a
# Unix socket in <dir> only; with --tcp also on 127.0.0.1 at a free port.
# Server binaries come from $PG_BINDIR, else the newest
# /usr/lib/postgresql/<ver>/bin.  initdb and postgres refuse root: as root
# the server runs as the "postgres" system user (Debian's package creates
# it), or a dedicated "sirt-pgtest" user created here if it is absent.
# Durability is off (fsync, synchronous_commit, full_page_writes) unless
# --durable (the server's defaults: what the benchmarks measure against):
# never use this for data you want to keep.  Every step is bounded in time.
# "stop" only removes a directory this script started (marker file).
set -euo pipefail

MARK=.sirt-pg-test
DB=sirt
SUPERUSER=sirt

die() { echo "pg-server: $*" >&2; exit 1; }

find_bindir() {
    if [ -n "${PG_BINDIR:-}" ]; then
        [ -x "$PG_BINDIR/initdb" ] || die "PG_BINDIR=$PG_BINDIR has no initdb"
        echo "$PG_BINDIR"; return
    fi
    local best="" v
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] || continue
        v=$(basename "$(dirname "$d")")
        if [ -z "$best" ] || [ "$(printf '%s\n%s\n' "$v" "$best" | sort -V | tail -n1)" = "$v" ]; then
            best=$v
        fi
    done
    [ -n "$best" ] || die "no PostgreSQL server found in /usr/lib/postgresql/*/bin (install Debian's postgresql package: scripts/install-deps.sh)"
    echo "/usr/lib/postgresql/$best/bin"
}

# The user the server runs as: ourselves, or an unprivileged one when root.
server_user() {
    if [ "$(id -u)" -ne 0 ]; then id -un; return; fi
    if id postgres >/dev/null 2>&1; then echo postgres; return; fi
    if ! id sirt-pgtest >/dev/null 2>&1; then
        useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin sirt-pgtest >&2 \
            || die "cannot create the user sirt-pgtest to run the server as"
    fi
    echo sirt-pgtest
}

# as <user> <cmd...>: run cmd as user (directly when that is us), in <dir>.
as() {
    local u=$1; shift
    if [ "$(id -un)" = "$u" ]; then
        (cd "$DIR" && "$@")
    else
        (cd "$DIR" && runuser -u "$u" -- "$@")
    fi
}

free_port() {
    local p i
    for i in $(seq 1 50); do
        p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
    done
    die "no free 127.0.0.1 port found"
}

cmd_start() {
    local tcp=0 durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off" a
    for a in "${@:2}"; do
        case "$a" in
            --tcp) tcp=1 ;;
            --durable) durability="" ;;
            *) die "unknown option $a" ;;
        esac
    done
    DIR=$1
    case "$DIR" in /*) ;; *) DIR="$(pwd)/$DIR" ;; esac
    mkdir -p "$DIR"
    [ -z "$(ls -A "$DIR")" ] || die "$DIR is not empty"
    touch "$DIR/$MARK"
    local bin user t0 port listen uri
    bin=$(find_bindir)
    user=$(server_user)
    t0=$(date +%s%N)
    [ "$user" = "$(id -un)" ] || chown "$user:" "$DIR" "$DIR/$MARK"
    chmod 700 "$DIR"
    as "$user" test -w "$DIR" || die "user $user cannot write $DIR (is a parent directory closed to it?)"

    as "$user" timeout 60 "$bin/initdb" -D "$DIR/data" -A trust -U "$SUPERUSER" -E UTF8 --no-locale --no-sync \
        >"$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; die "initdb failed (as $user, $bin)"; }

    local tries=1
    [ $tcp -eq 1 ] && tries=5
    for i in $(seq 1 $tries); do
        if [ $tcp -eq 1 ]; then port=$(free_port); listen=127.0.0.1; else port=5432; listen=""; fi
        if as "$user" "$bin/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 30 \
            -o "-k '$DIR' -p $port -c listen_addresses='$listen' $durability -c dynamic_shared_memory_type=mmap -c max_connections=200" \
            start >"$DIR/pg_ctl.log" 2>&1; then
            break
        fi
        if [ "$i" -eq "$tries" ]; then
            tail -n 20 "$DIR/server.log" >&2 2>/dev/null || true
            die "the server did not start (log: $DIR/server.log)"
        fi
    done

    # FILE_COPY (PostgreSQL >= 15) is several times faster than WAL-logging template1.
    local major strategy=""
    major=$("$bin/pg_ctl" --version | sed -n 's/.* \([0-9][0-9]*\)\..*/\1/p')
    [ "${major:-0}" -ge 15 ] && strategy=" STRATEGY FILE_COPY"
    timeout 20 "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$DIR" -p "$port" -U "$SUPERUSER" -d postgres \
        -c "CREATE DATABASE $DB$strategy" >/dev/null || die "cannot create database $DB"

    uri="postgresql:///$DB?host=$DIR&port=$port&user=$SUPERUSER"
    echo "$uri" >"$DIR/uri"
    [ $tcp -eq 1 ] && echo "postgresql://$SUPERUSER@127.0.0.1:$port/$DB" >"$DIR/uri-tcp"
    echo "$bin" >"$DIR/bindir"
    echo "$user" >"$DIR/user"
    echo "pg-server: started in $(( ($(date +%s%N) - t0) / 1000000 )) ms as $user ($bin)" >&2
    echo "$uri"
}

cmd_stop() {
    DIR=$1
    [ -d "$DIR" ] || return 0
    [ -f "$DIR/$MARK" ] || die "$DIR was not made by pg-server.sh: not removing it"
    local t0 bin user pid
    t0=$(date +%s%N)
    if [ -f "$DIR/data/postmaster.pid" ]; then
        bin=$(cat "$DIR/bindir" 2>/dev/null || find_bindir)
        user=$(cat "$DIR/user" 2>/dev/null || stat -c %U "$DIR/data")
        if ! as "$user" "$bin/pg_ctl" -D "$DIR/data" -m immediate -w -t 10 stop >/dev/null 2>&1; then
            pid=$(head -n1 "$DIR/data/postmaster.pid" 2>/dev/null || true)
            case "$pid" in ''|*[!0-9]*) ;; *) kill -KILL "$pid" 2>/dev/null || true ;; esac
            echo "pg-server: pg_ctl stop failed; killed postmaster ${pid:-?}" >&2
        fi
    fi
    rm -rf -- "$DIR"
    echo "pg-server: stopped in $(( ($(date +%s%N) - t0) / 1000000 )) ms" >&2
}

case "${1:-}" in
    start) [ $# -ge 2 ] || die "usage: $0 start <dir> [--tcp] [--durable]"; cmd_start "${@:2}" ;;
    stop)  [ $# -eq 2 ] || die "usage: $0 stop <dir>"; cmd_stop "$2" ;;
    uri)   [ $# -eq 2 ] || die "usage: $0 uri <dir>"; cat "$2/uri" ;;
    *) echo "usage: $0 start <dir> [--tcp] [--durable] | stop <dir> | uri <dir>" >&2; exit 2 ;;
esac
