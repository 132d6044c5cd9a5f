#!/usr/bin/env bash
# sprov-ca serve: the web portal in a real browser.  Makes two CAs with
# organisations, domains and users, starts the portal of each (one in
# online mode, one in queue mode), and runs tests/browser/portal.mjs:
# Debian's chromium, headless, driven by playwright-core, logging in,
# signing, downloading, revoking, and trying what an attacker would.  Its
# TAP cases continue this script's numbering.  A full-page PNG of each
# page visited goes to $SPROV_SCREENSHOTS (default
# test-artifacts/screenshots/BUILD, BUILD being the directory of
# $SPROV_CA: build, build-asan).
# Needs node, chromium and tests/browser/node_modules (`make test` runs
# `scripts/install-deps --browser`, which installs all three); without
# them the test says so as a skip.
REPO=$(cd "$(dirname "$0")/../.." && pwd)
. "$(dirname "$0")/lib/tap.sh"
BROWSER=$REPO/tests/browser
CHROMIUM=${SPROV_CHROMIUM:-/usr/bin/chromium}

why=
if ! command -v node >/dev/null 2>&1; then
	why="node is not installed (scripts/install-deps --browser)"
elif [ ! -x "$CHROMIUM" ]; then
	why="no chromium at $CHROMIUM (scripts/install-deps --browser)"
elif [ ! -f "$BROWSER/node_modules/playwright-core/package.json" ]; then
	why="no playwright-core in tests/browser/node_modules (scripts/install-deps --browser)"
fi
if [ -n "$why" ]; then
	skip "the portal in a browser" "$why"
	done_testing
	exit
fi

SHOTS=${SPROV_SCREENSHOTS:-$REPO/test-artifacts/screenshots/$(basename \
    "$(dirname "$SPROV_CA")")}
mkdir -p "$SHOTS"
rm -f "$SHOTS"/[0-9][0-9]-*.png	# the last run's, not to be mistaken

PW='correct horse battery'
printf '%s\n' "$PW" > pw
chmod 600 pw
# make_ca DIR: a CA in DIR and the portal's certificate from it, DIR-portal.*.
make_ca() {
	local dir=$1
	$SPROV_CA -d "$dir" init >/dev/null
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$dir-portal.key" -out "$dir-portal.csr" \
	    -subj "/CN=portal.test" 2>/dev/null
	chmod 600 "$dir-portal.key"
	$SPROV_CA -d "$dir" sign-server "$dir-portal.csr" \
	    -o "$dir-portal.crt" >/dev/null 2>&1
}
# org DIR ORG DOMAIN USER...
org() {
	local dir=$1 o=$2 d=$3 u
	shift 3
	$SPROV_CA -d "$dir" account org-add "$o"
	$SPROV_CA -d "$dir" account domain-add "$o" "$d"
	for u in "$@"; do
		$SPROV_CA -d "$dir" account user-add "$o" "$u" \
		    --passphrase-file pw
	done
}
# serve DIR CONF: starts the portal; its port in $PORT ("" if it did not
# start), its pid in $SPID.
serve() {
	local dir=$1 conf=$2 i
	rm -f "$conf.port"
	$SPROV_CA -d "$dir" serve -f "$conf" 2>"$conf.log" &
	SPID=$!
	for i in $(seq 1 200); do
		[ -s "$conf.port" ] && break
		kill -0 $SPID 2>/dev/null || break
		sleep 0.05
	done
	PORT=$(sed 's/.*://' "$conf.port" 2>/dev/null)
	[ -n "$PORT" ] || sed 's/^/#   /' "$conf.log" | head -20
}
conf() {	# DIR MODE [more lines]: a portal.conf on stdout
	local dir=$1 mode=$2
	shift 2
	printf '%s\n' "listen 127.0.0.1:0" "listen_report $T/$dir.conf.port" \
	    "cert $T/$dir-portal.crt" "key $T/$dir-portal.key" "mode $mode" \
	    "$@"
}

make_ca ca
org ca "Telco SA" telco.net ops@telco thr@telco
org ca "Other Inc" other.net dev@other
conf ca online "days 365" "days_max 730" > ca.conf
make_ca qca
org qca "Queue Co" queue.net q@queue
conf qca queue > qca.conf

PIDS=
trap 'kill $PIDS 2>/dev/null; rm -rf "$T"' EXIT
serve ca ca.conf
PIDS="$PIDS $SPID"
ONLINE=$PORT
check "the portal starts in online mode" test -n "$ONLINE"
serve qca qca.conf
PIDS="$PIDS $SPID"
QPORT=$PORT
check "the portal starts in queue mode" test -n "$QPORT"
if [ -z "$ONLINE" ]; then
	done_testing
	exit
fi

mkdir -p tmp work
echo "# screenshots: $SHOTS"
# TMPDIR: chromium's profile and playwright's files, removed with $T.
env TMPDIR="$T/tmp" SPROV_TAP_START=$_n \
    SPROV_PORTAL="https://127.0.0.1:$ONLINE" \
    SPROV_QUEUE="${QPORT:+https://127.0.0.1:$QPORT}" \
    SPROV_CA_DIR="$T/ca" SPROV_QCA_DIR="$T/qca" SPROV_WORK="$T/work" \
    SPROV_SCREENSHOTS="$SHOTS" SPROV_PASSPHRASE="$PW" \
    SPROV_ORG1="Telco SA" SPROV_DOMAIN1=telco.net SPROV_USER1=ops@telco \
    SPROV_THROTTLE_USER=thr@telco \
    SPROV_ORG2="Other Inc" SPROV_DOMAIN2=other.net SPROV_USER2=dev@other \
    SPROV_QORG="Queue Co" SPROV_QDOMAIN=queue.net SPROV_QUSER=q@queue \
    SPROV_DAYS=365 SPROV_DAYS_MAX=730 SPROV_QDAYS=397 SPROV_QDAYS_MAX=825 \
    timeout 480 node "$BROWSER/portal.mjs" 2>&1 | tee browser.out
rc=${PIPESTATUS[0]}
# Its cases are ours: count them into this script's plan.
ran=$(grep -cE '^(not )?ok ' browser.out)
bad=$(grep -c '^not ok ' browser.out)
_n=$((_n + ran))
_failed=$((_failed + bad))
if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then
	_report 1 "the browser tests exited with status $rc"
fi

kill $PIDS 2>/dev/null
wait $PIDS 2>/dev/null
check "no sanitizer report from either portal" sh -c "! grep -E \
    'Sanitizer|runtime error' ca.conf.log qca.conf.log"
done_testing
