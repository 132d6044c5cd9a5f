# Shared helpers for integration tests: TAP output read by tests/run.
# Each test script sources this, gets a fresh $T directory removed on exit,
# and $SPROV_CA (the sprov-ca binary under test).
set -u
: "${SPROV_CA:?SPROV_CA must name the sprov-ca binary}"
# The other helpers of lib/ (sprovd.sh, dns.sh), sourced from here on.
TESTLIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/sprov-it-XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T"
_n=0
_failed=0

_report() {	# status name
	_n=$((_n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $_n - $2"
	else
		echo "not ok $_n - $2"
		_failed=$((_failed + 1))
	fi
}

# check NAME CMD...: passes when CMD exits 0.
check() {
	local name=$1; shift
	if "$@" >"$T/.out" 2>&1; then
		_report 0 "$name"
	else
		sed 's/^/#   /' "$T/.out" | head -20
		_report 1 "$name"
	fi
}

# refuse NAME EXIT SUBSTRING CMD...: passes when CMD exits with EXIT and
# its output holds SUBSTRING (the message must name the problem).
refuse() {
	local name=$1 want=$2 msg=$3 rc; shift 3
	"$@" >"$T/.out" 2>&1
	rc=$?
	if [ "$rc" = "$want" ] && grep -qF -- "$msg" "$T/.out"; then
		_report 0 "$name"
	else
		echo "#   exit $rc (wanted $want), output:"
		sed 's/^/#   /' "$T/.out" | head -20
		echo "#   wanted text: $msg"
		_report 1 "$name"
	fi
}

# has NAME FILE SUBSTRING: FILE contains SUBSTRING.
has() {
	if grep -qF -- "$3" "$2"; then
		_report 0 "$1"
	else
		echo "#   $2 lacks: $3"
		sed 's/^/#   /' "$2" | head -20
		_report 1 "$1"
	fi
}

# skip NAME REASON: a check that cannot run here, and why.
skip() {
	_n=$((_n + 1))
	echo "ok $_n - $1 # SKIP $2"
}

# A fingerprint of a directory: names, modes, sizes, contents.
tree_sum() {
	(cd "$1" && find . -print0 | sort -z | xargs -0 stat -c '%n %a %s' &&
	    find . -type f -print0 | sort -z | xargs -0 sha256sum)
}

done_testing() {
	echo "1..$_n"
	[ "$_failed" = 0 ]
}
