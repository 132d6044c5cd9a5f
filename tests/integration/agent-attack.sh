#!/usr/bin/env bash
# The agent against a hostile server that passes every check a phone makes
# (its certificate is from the trusted server CA, its CN names a DNS name
# that resolves to the address it listens on) and then misbehaves: endless
# headers, an endless body, a gzip bomb, redirect loops, redirects to
# file:// and other schemes, a slow drip, a certificate chain 100 deep.
# Each time the agent gives up within its limits, names the cause in $ERR
# (its Log_Failure_Msg) and leaves its store exactly as it was.
. "$(dirname "$0")/lib/tap.sh"
: "${SPROV_AGENT:?}" "${SPROV_STORECTL:?}"
EVIL=$(dirname "$SPROV_STORECTL")/evilsrv
CA="$SPROV_CA -d ca"
AG="$SPROV_AGENT -s st"

$CA init >/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout evil.key -out evil.csr -subj "/CN=evil.sprov.test" 2>/dev/null
chmod 600 evil.key
$CA sign-server evil.csr -o evil.crt 2>/dev/null
$CA issue-device --mac 000e08000001 --serial SN1 --model CP-8841-3PCC -o dev \
    >/dev/null

# A chain 100 deep under the same trusted root: root -> int1 -> ... ->
# int100 -> a leaf whose CN passes the rule.
cp ca/server-ca.crt prev.crt
cp ca/server-ca.key prev.key 2>/dev/null || true
printf 'basicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign\n' \
    > ca.ext
: > deep-ints.pem
if [ -s prev.key ]; then
	for i in $(seq 1 100); do
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		    -nodes -keyout i.key -subj "/CN=Intermediate $i" 2>/dev/null |
		    openssl x509 -req -CA prev.crt -CAkey prev.key -days 30 \
		    -extfile ca.ext -out i.crt 2>/dev/null
		cat i.crt deep-ints.pem > tmp.pem && mv tmp.pem deep-ints.pem
		mv i.crt prev.crt
		mv i.key prev.key
	done
	openssl x509 -req -in evil.csr -CA prev.crt -CAkey prev.key -days 30 \
	    -out deepleaf.crt 2>/dev/null
	cat deepleaf.crt deep-ints.pem > deep.pem
fi

# DNS: evil.sprov.test is 127.0.0.5, where the hostile server listens.
. "$TESTLIB/dns.sh"
dns_start --local=/sprov.test/ --host-record=evil.sprov.test,127.0.0.5
EPID=
trap 'kill $DNSPID $EPID 2>/dev/null; rm -rf "$T"' EXIT

$AG init --cert dev/000e08000001.crt --key dev/000e08000001.key \
    --server-ca ca/server-ca.crt >/dev/null
$AG set Primary_DNS 127.0.0.1:$DP
$AG set GPP_A before-the-attack

evil() {	# mode [arg] [chain]: (re)starts the hostile server
	[ -n "$EPID" ] && kill $EPID 2>/dev/null && wait $EPID 2>/dev/null
	rm -f port port.hits
	$EVIL -c "${3:-evil.crt}" -k evil.key -a 127.0.0.5 -P port "$1" \
	    "${2:-}" 2>evil.log &
	EPID=$!
	for i in $(seq 1 100); do [ -s port ] && break; sleep 0.05; done
	PORT=$(cat port)
	URL="https://evil.sprov.test:$PORT/prov/\$MA.xml"
}

# attack NAME MAX-SECONDS ERR-SUBSTRING: one resync against the server as
# it is now; it must fail (exit 1) within MAX-SECONDS, the failure message
# must name ERR-SUBSTRING, and the agent's store must be unchanged.
attack() {
	local name=$1 max=$2 want=$3 t0 rc el
	tree_sum st > before.sum
	t0=$(date +%s)
	$AG resync "$URL" > out.txt 2> err.txt
	rc=$?
	el=$(( $(date +%s) - t0 ))
	check "$name: the resync fails (exit $rc)" test $rc = 1
	check "$name: given up within ${max} s (took $el s)" test $el -le $max
	has "$name: \$ERR names the cause" err.txt "$want"
	tree_sum st > after.sum
	check "$name: the agent's store is unchanged" cmp -s before.sum after.sum
}

evil ok
$AG resync "$URL" > out.txt 2> err.txt
check "the hostile server passes the phone's checks when it behaves" \
    test "$($AG get GPP_A)" = from-evilsrv
$AG set GPP_A before-the-attack

evil headers
attack "endless headers" 30 "response headers larger than"
evil body
attack "endless body" 30 "larger than 8388608 bytes"
evil bomb
attack "gzip bomb (1 GiB inflated)" 30 "more than 8388608 bytes uncompressed"
evil redirect "https://evil.sprov.test:PORT/prov/loop.xml"
attack "redirect loop" 30 "redirects"
check "redirect loop: at most 6 requests (1 + 5 redirects)" \
    test "$(wc -l < port.hits)" -le 6
evil redirect "file:///etc/passwd"
attack "redirect to file://" 30 "refused (not https)"
evil redirect "ftp://127.0.0.5/x.xml"
attack "redirect to ftp://" 30 "refused (not https)"
evil redirect "gopher://127.0.0.5:70/x"
attack "redirect to gopher://" 30 "refused (not https)"
evil redirect "http://evil.sprov.test:1/prov/x.xml"
attack "redirect from https down to http" 30 "refused (not https)"
evil drip
attack "slow drip (1 byte a second)" 30 "too slow"
if [ -s deep.pem ]; then
	evil ok "" deep.pem
	attack "certificate chain 100 deep" 30 "server certificate not trusted"
	check "chain 100 deep: refused before any request" test \
	    "$(cat port.hits 2>/dev/null | wc -l)" = 0
else
	skip "certificate chain 100 deep" "no server-CA key file in ca/"
fi
check "after all attacks the agent's value is the one it had" \
    test "$($AG get GPP_A)" = before-the-attack
done_testing
