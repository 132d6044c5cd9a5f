#!/usr/bin/env bash
# `make run`'s script, as a user would run it, in a scratch directory.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/integration/lib/tap.sh"
[ "$(dirname "$SPROVD")" = "$ROOT/build" ] || {
	echo "ok 1 - demo # SKIP the demo script runs the release build only"
	echo "1..1"; exit 0; }
SPROV_DEMO_DIR=$T/demo SPROV_DEMO_PORT=0 SPROV_DEMO_ONESHOT=1 \
    "$ROOT/scripts/demo" > out.txt 2>&1
check "the demo runs" test $? = 0
has "the demo refuses a single-label CN" out.txt "single label"
has "the demo serves a device's profile" out.txt \
    "<User_ID_1_>1001</User_ID_1_>"
has "the password is marked na" out.txt '<Password_1_ ua="na">'
has "the demo agent verified the server" out.txt \
    "127.0.0.1 is an address of prov.sprov.test"
has "the demo agent applied the profile" out.txt "Station_Name     Lobby"
SPROV_DEMO_DIR=$T/demo SPROV_DEMO_PORT=0 SPROV_DEMO_ONESHOT=1 \
    "$ROOT/scripts/demo" > out2.txt 2>&1
check "a second run reuses the CA" sh -c "! grep -q 'first run' out2.txt &&
    grep -q '<User_ID_1_>1001' out2.txt"
done_testing
