#!/usr/bin/env bash
# sprov-agent against sprovd, with dnsmasq on a loopback port as the DNS
# server and servers on distinct 127.0.0.x addresses: the phone's three
# checks (chain, CN rule, address among the name's) before any request.
. "$(dirname "$0")/lib/tap.sh"
: "${SPROVD:?}" "${SPROV_AGENT:?}" "${SPROV_STORECTL:?}" "${SPROVCTL:?}"
CA="$SPROV_CA -d ca"
AG="$SPROV_AGENT -s st"
DB="sqlite:$T/var/sprov.db"
ST="$SPROV_STORECTL $DB"
mkdir -p var fw

# PKI: server certificates for several names, one from a foreign CA, one
# expired; one device.
$CA init >/dev/null
$SPROV_CA -d other init >/dev/null
srv() {		# name ca-dir subject
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout $1.key -out $1.csr -subj "$3" 2>/dev/null
	chmod 600 $1.key
	$SPROV_CA -d $2 sign-server $1.csr -o $1.crt 2>/dev/null
}
srv pv ca "/CN=pv.sprov.test\/mailto:admin@sprov.test"
srv two ca "/CN=two.sprov.test"
srv other ca "/CN=other.sprov.test"
srv foreign other "/CN=pv.sprov.test"
cat > old.cnf <<'CNF'
[ca]
default_ca = d
[d]
database = idx.txt
new_certs_dir = .
serial = ser
default_md = sha256
policy = p
copy_extensions = none
[p]
commonName = supplied
CNF
: > idx.txt; echo 01 > ser
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout old.key -out old.csr -subj "/CN=pv.sprov.test" 2>/dev/null
chmod 600 old.key
openssl ca -batch -config old.cnf -cert ca/server-ca.crt -keyfile \
    ca/server-ca.key -in old.csr -out old.crt -startdate 20200101000000Z \
    -enddate 20210101000000Z -notext >/dev/null 2>&1
$CA issue-device --mac 000e08000001 --serial SN1 --model CP-8841-3PCC -o dev \
    >/dev/null
check "test PKI ready" test -s pv.crt -a -s foreign.crt -a -s old.crt

# DNS: dnsmasq on a free loopback port.
. "$TESTLIB/dns.sh"
dns_start --local=/sprov.test/ --host-record=pv.sprov.test,127.0.0.2 \
    --host-record=two.sprov.test,127.0.0.3 \
    --host-record=two.sprov.test,127.0.0.2 \
    --host-record=other.sprov.test,127.0.0.9
trap 'kill $DNSPID 2>/dev/null; rm -rf "$T"' EXIT
check "dnsmasq answers on 127.0.0.1:$DP" kill -0 $DNSPID

# Servers: one sprovd per certificate, each on its own address.
server() {	# tag cert addr [extra config lines]
	cat > $1.conf <<CONF
listen $3:0
listen_report $T/$1.listen
cert $T/$2.crt
key $T/$2.key
client_ca $T/ca/device-ca.crt
store $DB
firmware_dir $T/fw
workers 1
${4:-}
CONF
	$SPROVD -d -f $1.conf 2>$1.log &
	eval "PID_$1=$!"
	for i in $(seq 1 100); do [ -s $1.listen ] && break; sleep 0.05; done
	eval "PORT_$1=$(head -1 $1.listen | sed 's/.*://')"
}
$ST device 000e08000001 CP-8841-3PCC SN1 >/dev/null
$ST param default Proxy_1_ sip.example.net
$ST param device:000e08000001 Station_Name "Agent Test"
$ST param device:000e08000001 Password_1_ 's3cr&t' na
$CA issue-admin ops -o adm >/dev/null
server pv pv 127.0.0.2 "admin_listen 127.0.0.2:0
admin_ca $T/ca/admin-ca.crt"
APORT=$(sed -n 2p pv.listen | sed 's/.*://')
server two two 127.0.0.2
server other other 127.0.0.2
server foreign foreign 127.0.0.2
# An expired certificate: sprovd refuses to start with one, so the peer
# here is openssl s_server.
for try in 1 2 3 4 5; do
	PORT_old=$((20000 + RANDOM % 12000))
	openssl s_server -accept 127.0.0.2:$PORT_old -cert old.crt -key old.key \
	    -www -quiet > old.log 2>&1 &
	PID_old=$!
	sleep 0.3
	kill -0 $PID_old 2>/dev/null && break
done

check "agent init" $SPROV_AGENT -s st init --cert dev/000e08000001.crt \
    --key dev/000e08000001.key --server-ca ca/server-ca.crt
check "agent identity key is 0600" test "$(stat -c %a st/identity.key)" = 600
$AG set Primary_DNS 127.0.0.1:$DP
check "defaults from the reference" test "$($AG get Resync_Periodic)" = 3600

# Success with a CN=name/extra certificate, found by DNS.
URL="https://pv.sprov.test:$PORT_pv/prov/\$MA.xml"
$AG check "$URL" > check.txt
check "check: (a) chain" grep -q "(a) chain to the trusted root *OK" check.txt
has "check: (b) CN rule on name/extra" check.txt "name pv.sprov.test"
has "check: (c) address" check.txt "127.0.0.2 is an address of pv.sprov.test"
has "check: HTTP 200" check.txt "HTTP 200"
$AG set Profile_Rule "$URL"
$AG resync
check "resync: changed (exit 0)" test $? = 0
check "resync: the served value applied" test \
    "$($AG get Station_Name)" = "Agent Test"
check "resync: escaped value decoded" test "$($AG get Password_1_)" = 's3cr&t'
$AG show > show.xml
check "show: ua kept" grep -q '<Password_1_ ua="na">' show.xml
$AG resync
check "second resync: unchanged (exit 2)" test $? = 2

# --post a: the body is GPP_A, macros expanded (sprovd takes it as a report).
$AG set GPP_A '<flat-profile><Posted_MAC>$MA</Posted_MAC></flat-profile>'
$AG resync "[--post a] https://pv.sprov.test:$PORT_pv/report/\$MA.xml" \
    2>err.txt
check "--post: the server got GPP_A with macros expanded" sh -c "$ST report \
    000e08000001 | grep -q '<Posted_MAC>000e08000001</Posted_MAC>'"

# Refusals: the server must see no request at all.
before() { grep -c ' GET ' $1.log; }
n=$(before foreign)
$AG resync "https://pv.sprov.test:$PORT_foreign/prov/\$MA.xml" 2>err.txt
check "foreign CA: resync fails" test $? = 1
has "foreign CA: \$ERR names the chain" err.txt "server certificate not trusted"
check "foreign CA: the server saw no request" test "$(before foreign)" = "$n"
n=$(before other)
$AG resync "https://127.0.0.2:$PORT_other/prov/\$MA.xml" 2>err.txt
check "name resolving elsewhere: refused" test $? = 1
has "name resolving elsewhere: \$ERR names the address" err.txt \
    "server address 127.0.0.2 is not an address of other.sprov.test"
check "name resolving elsewhere: no request" test "$(before other)" = "$n"
$AG resync "https://pv.sprov.test:$PORT_old/prov/\$MA.xml" 2>err.txt
check "expired server certificate: refused" test $? = 1
has "expired: named" err.txt "server certificate not trusted"
$AG resync "https://127.0.0.2:$PORT_pv/prov/\$MA.xml" 2>err.txt
check "an IP-literal URL is accepted when the CN's DNS matches" test $? = 2
$AG resync "https://two.sprov.test:$PORT_two/prov/\$MA.xml" 2>err.txt
check "two addresses, the first not answering: the second serves" test $? = 2

# Status handling.
$AG resync "https://pv.sprov.test:$PORT_pv/missing.xml" 2>err.txt
check "404 fails with Resync_Fails_On_FNF=Yes" test $? = 1
has "404 named" err.txt "HTTP 404"
$AG set Resync_Fails_On_FNF No
$AG resync "https://pv.sprov.test:$PORT_pv/missing.xml" 2>err.txt
check "404 is success with Resync_Fails_On_FNF=No" test $? = 2
$AG set Resync_Fails_On_FNF Yes

# TFTP (the default scheme): dnsmasq's TFTP server, port 69.
if [ "$(id -u)" = 0 ]; then
	mkdir -p tftp
	echo '<flat-profile><GPP_F>via-tftp</GPP_F></flat-profile>' > tftp/p.xml
	dnsmasq --keep-in-foreground --port=0 --enable-tftp \
	    --tftp-root=$T/tftp --listen-address=127.0.0.3 --bind-interfaces \
	    --user=root --pid-file= --log-facility=- 2>tftp.log &
	TFTPPID=$!
	sleep 0.3
	$AG resync "127.0.0.3/p.xml"
	check "TFTP by default (no scheme): applied" test \
	    "$($AG get GPP_F)" = via-tftp
	$AG resync "tftp://127.0.0.3/missing.xml" 2>err.txt
	check "TFTP: a missing file fails" test $? = 1
	# No server in the URL: the one the device's DHCP gave (agent.conf).
	refuse "no server and no DHCP TFTP server: named" 1 \
	    "no DHCP TFTP server is known" $AG resync "/p.xml"
	$AG set GPP_F before-dhcp
	echo "tftp_server 127.0.0.3" > st/agent.conf
	$AG resync "/p.xml"
	check "no server in the URL: the DHCP TFTP server's file applied" \
	    test "$($AG get GPP_F)" = via-tftp
	refuse "no server in an https URL is not TFTP's" 1 "names no server" \
	    $AG resync "https:///p.xml"
	check "check: a URL without a server goes to the DHCP TFTP server" \
	    $AG check "/p.xml"
	# Upgrade_Rule without a server: the image comes by TFTP too.
	head -c 5000 /dev/urandom > tftp/sip88xx.11-9-1MPP.loads
	printf '#!/bin/sh\ncp "$1" "%s/tftp-installed.img"\n' "$T" > tinst.sh
	chmod +x tinst.sh
	printf 'tftp_server 127.0.0.3\ninstall_command %s/tinst.sh\n' "$T" \
	    > st/agent.conf
	$AG set Upgrade_Rule "/sip88xx.11-9-1MPP.loads"
	$AG upgrade
	check "Upgrade_Rule without a server: installed from DHCP TFTP" cmp \
	    tftp-installed.img tftp/sip88xx.11-9-1MPP.loads
	$AG set Upgrade_Rule ""
	$AG set Software_Version ""
	chmod 666 st/agent.conf
	refuse "agent.conf writable by others is refused" 1 "writable by others" \
	    $AG resync "/p.xml"
	rm st/agent.conf
	kill $TFTPPID; wait $TFTPPID 2>/dev/null
else
	echo "ok $((_n + 1)) - tftp # SKIP port 69 needs root"
	_n=$((_n + 1))
fi

# --srv: a second dnsmasq, started now that the servers' ports are known,
# names the servers of pv.sprov.test by SRV: first a dead one (priority
# 10), then sprovd under another name (priority 20).
for try in 1 2 3 4 5; do
	DP2=$((20000 + RANDOM % 12000))
	dnsmasq --keep-in-foreground --port=$DP2 --listen-address=127.0.0.1 \
	    --bind-interfaces --no-resolv --no-hosts --user="$(id -un)" \
	    --pid-file= --local=/sprov.test/ \
	    --host-record=pv.sprov.test,127.0.0.2 \
	    --host-record=srvt.sprov.test,127.0.0.2 \
	    --host-record=dead.sprov.test,127.0.0.4 \
	    --srv-host=_ciscoprov-https._tls.pv.sprov.test,srvt.sprov.test,$PORT_pv,20,5 \
	    --srv-host=_ciscoprov-https._tls.pv.sprov.test,dead.sprov.test,9,10,5 \
	    --srv-host=_ciscoprov-https._tls.wrong.sprov.test,srvt.sprov.test,$PORT_pv,10,5 \
	    $(for p in 11 12 13 14 15 16 17 18 19; do printf -- '--srv-host=_ciscoprov-https._tls.many.sprov.test,dead.sprov.test,%s,50,5 ' $p; done) \
	    --srv-host=_ciscoprov-https._tls.many.sprov.test,srvt.sprov.test,$PORT_pv,1,5 \
	    --log-facility=- 2>dnsmasq2.log &
	DNS2PID=$!
	sleep 0.3
	kill -0 $DNS2PID 2>/dev/null && break
done
trap 'kill $DNSPID $DNS2PID 2>/dev/null; rm -rf "$T"' EXIT
$AG set Primary_DNS 127.0.0.1:$DP2
$AG set Station_Name before-srv
$AG check "[--srv] https://pv.sprov.test/prov/\$MA.xml" > srv.txt 2>&1
has "--srv: SRV records found" srv.txt "_ciscoprov-https._tls.pv.sprov.test: 2 records"
has "--srv: the dead priority-10 target is tried first" srv.txt "127.0.0.4 (dead.sprov.test) port 9"
has "--srv: the CN names the SRV domain, the address the target's" srv.txt \
    "127.0.0.2 is an address of srvt.sprov.test (SRV of pv.sprov.test)"
$AG resync "[--srv] https://pv.sprov.test/prov/\$MA.xml"
check "--srv: resync through the SRV target" test $? = 0 -a \
    "$($AG get Station_Name)" = "Agent Test"
refuse "--srv: a certificate for another domain is refused" 1 \
    "is not the SRV domain wrong.sprov.test" \
    $AG resync "[--srv] https://wrong.sprov.test/prov/\$MA.xml"
$AG check "[--srv] https://many.sprov.test/prov/\$MA.xml" > srv2.txt 2>&1
check "--srv: of 10 records, the priority-1 one is tried first" sh -c \
    "grep 'port' srv2.txt | head -1 | grep -q '(srvt.sprov.test)'"
refuse "--srv: a domain without SRV records fails" 1 "DNS SRV lookup" \
    $AG resync "[--srv] https://two.sprov.test/prov/\$MA.xml"
refuse "--srv: TFTP is not looked up by SRV" 1 \
    "tftp scheme not supported in SRV lookups" \
    $AG resync "[--srv] tftp://pv.sprov.test/p.xml"
$AG set Primary_DNS 127.0.0.1:$DP

# Compressed and encrypted profiles, made with gzip and openssl enc.
cat > p.xml <<'XML'
<flat-profile><GPP_A>gzipped</GPP_A><GPP_B>from-enc</GPP_B></flat-profile>
XML
gzip -c p.xml > fw/p.xml.gz
openssl enc -aes-256-cbc -k 'Secret Phrase' -md sha256 -in p.xml \
    -out fw/p.sha256.cfg 2>/dev/null
sed 's/from-enc/from-md5/' p.xml | gzip -c | openssl enc -aes-256-cbc \
    -k 'Secret Phrase' -md md5 -out fw/p.md5.cfg 2>/dev/null
B="https://pv.sprov.test:$PORT_pv/fw"
$AG resync "$B/p.xml.gz"
check "gzip profile applied" test "$($AG get GPP_A)" = gzipped
$AG resync "[--key \"Secret Phrase\"] $B/p.sha256.cfg"
check "openssl enc (SHA-256 derivation) applied" test \
    "$($AG get GPP_B)" = from-enc
$AG resync "[--key \"Secret Phrase\"] $B/p.md5.cfg"
check "openssl enc (MD5 derivation, gzip inside) applied" test \
    "$($AG get GPP_B)" = from-md5
$AG resync "[--key wrong] $B/p.sha256.cfg" 2>err.txt
check "a wrong key fails" test $? = 1
has "wrong key named" err.txt "cannot decrypt"
$AG set GPP_C secret-value
$AG set GPP_SA 'Secret Phrase'
$AG set GPP_B before-sa
$AG resync "[--key \$SA] $B/p.sha256.cfg"
check "--key \$SA expands a secret register" test $? = 0 -a \
    "$($AG get GPP_B)" = from-enc

# --alias: a foreign XML document mapped through GPP_L (macros expanded).
cat > fw/foreign.xml <<'XML'
<?xml version="1.0"?>
<device><sip><proxy> sip.telco.example </proxy><user>1001</user></sip>
<name>Front
desk</name></device>
XML
$AG set GPP_L '/device/sip/proxy = /flat-profile/Proxy_1_ ;
  /device/sip/user = /flat-profile/User_ID_1_; /device/name = /flat-profile/$N'
$AG set GPP_N Station_Name
$AG resync "[--alias l] $B/foreign.xml"
check "--alias: resync succeeds" test $? = 0
check "--alias: mapped elements become parameters" test \
    "$($AG get Proxy_1_)|$($AG get User_ID_1_)|$($AG get Station_Name)" = \
    "sip.telco.example|1001|Front desk"
$AG set GPP_L '/device/sip/proxy = /other/Proxy_1_'
cp st/params.xml params.before
$AG resync "[--alias l] $B/foreign.xml" 2>err.txt
check "--alias: a bad map fails the resync" test $? = 1
has "--alias: the bad map is named" err.txt "alias map: entry 1"
check "--alias: a bad map changes nothing" cmp st/params.xml params.before

# <X ua="rw"/> leaves a user's value alone and changes only its ua.
$AG set Speed_Dial_2_Name "Mum"
printf '<flat-profile><Speed_Dial_2_Name ua="rw"/><GPP_G></GPP_G></flat-profile>' \
    > fw/keep.xml
$AG set GPP_G notempty
$AG resync "$B/keep.xml"
check "<X ua=\"rw\"/> keeps the value" test "$($AG get Speed_Dial_2_Name)" = Mum
check "<X ua=\"rw\"/> sets ua" sh -c "$AG show | grep -q \
    '<Speed_Dial_2_Name ua=\"rw\">Mum</Speed_Dial_2_Name>'"
check "<X></X> empties the value" test -z "$($AG get GPP_G)"

# Bad profiles change nothing.
head -c 40 p.xml > fw/trunc.xml
cat > fw/laughs.xml <<'XML'
<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>
<flat-profile><GPP_A>&lol2;</GPP_A></flat-profile>
XML
{ printf '<flat-profile><GPP_A>'; head -c 9000000 /dev/zero | tr '\0' a;
  printf '</GPP_A></flat-profile>'; } > fw/huge.xml
printf '<flat-profile><GPP_A>x</GPP_A><GPP_B>' > fw/corrupt.xml
head -c 100 /dev/urandom | gzip -c | head -c 50 > fw/badgz.xml.gz
cp st/params.xml params.before
for f in trunc.xml laughs.xml huge.xml corrupt.xml badgz.xml.gz; do
	$AG resync "$B/$f" 2>err.txt
	check "bad profile $f: resync fails" test $? = 1
	check "bad profile $f: nothing changed" cmp st/params.xml \
	    params.before
done
$AG resync "$B/laughs.xml" 2> laughs.txt
has "billion laughs refused as DOCTYPE" laughs.txt "DOCTYPE"
check "the state key is still refused when readable" sh -c "chmod 644 \
    st/identity.key; ! $AG get GPP_A; chmod 600 st/identity.key"

# Custom_CA_Rule: a provider CA, fetched from a trusted server, makes the
# provider's own server acceptable.
cp other/server-ca.crt fw/provider-ca.crt
cp ca/device-ca.crt fw/not-this.crt
$AG resync "https://pv.sprov.test:$PORT_foreign/prov/\$MA.xml" 2>/dev/null
check "before Custom_CA_Rule: the provider's server is refused" test $? = 1
check "Custom_CA_Info says Not Installed" test "$($AG get Custom_CA_Info)" = \
    "Not Installed"
$AG set Custom_CA_Rule "https://pv.sprov.test:$PORT_pv/fw/provider-ca.crt"
$AG resync "https://pv.sprov.test:$PORT_foreign/prov/\$MA.xml"
check "with the provider CA installed, its server is accepted" test $? -le 2
check "Custom_CA_Info names the CA" sh -c "$AG get Custom_CA_Info | grep -q \
    '^Installed - sprov Provisioning Server CA'"
check "Custom_CA_Provisioning_Status says it succeeded" sh -c "$AG get \
    Custom_CA_Provisioning_Status | grep -q 'Last provisioning succeeded on'"
$AG resync "https://pv.sprov.test:$PORT_pv/prov/\$MA.xml"
check "the server-CA root is still trusted" test $? -le 2
$SPROV_CA -d other revoke foreign.crt >/dev/null 2>&1
$AG set Custom_CA_Rule "https://pv.sprov.test:$PORT_foreign/fw/nope.crt"
$AG resync "https://pv.sprov.test:$PORT_pv/prov/\$MA.xml" 2>/dev/null
check "a failed custom CA fetch fails the resync" test $? = 1
check "and says so in its status" sh -c "$AG get \
    Custom_CA_Provisioning_Status | grep -q 'Last provisioning failed on'"
$AG set Custom_CA_Rule ""
$AG resync "https://pv.sprov.test:$PORT_pv/prov/\$MA.xml" 2>/dev/null
check "clearing Custom_CA_Rule removes the provider CA" test \
    "$($AG get Custom_CA_Info)" = "Not Installed"
$AG resync "https://pv.sprov.test:$PORT_foreign/prov/\$MA.xml" 2>/dev/null
check "and its server is refused again" test $? = 1

# Upgrade_Rule: staged, checked, installed by the configured command, a URL
# never attempted twice, Downgrade_Rev_Limit obeyed.
head -c 200000 /dev/urandom > fw/sip88xx.11-3-2MPP0001-609.loads
head -c 1000 /dev/urandom > fw/sip88xx.11-2-1MPP.loads
cat > install.sh <<'SH'
#!/bin/sh
cp "$1" "$(dirname "$0")/installed.img" && echo "$2" >> "$(dirname "$0")/installs.log"
SH
chmod +x install.sh
echo "install_command $T/install.sh" > st/agent.conf
$AG set Upgrade_Rule "https://pv.sprov.test:$PORT_pv/fw/sip88xx.11-3-2MPP0001-609.loads"
$AG upgrade
check "upgrade: installed (exit 0)" test $? = 0
check "upgrade: the installed image is the served one" cmp installed.img \
    fw/sip88xx.11-3-2MPP0001-609.loads
check "upgrade: Software_Version is the image's version" test \
    "$($AG get Software_Version)" = sip88xx.11-3-2MPP0001-609
check "upgrade: no staging file left" test ! -e st/staging.img
$AG upgrade
check "upgrade: the same URL is never attempted twice" test $? = 2
check "upgrade: installed once" test "$(wc -l < installs.log)" = 1
$AG set Downgrade_Rev_Limit sip88xx.11-3-1MPP
$AG set Upgrade_Rule "https://pv.sprov.test:$PORT_pv/fw/sip88xx.11-2-1MPP.loads"
$AG upgrade 2>err.txt
check "upgrade below Downgrade_Rev_Limit refused" test $? = 1
has "downgrade refusal named" err.txt "below Downgrade_Rev_Limit"
check "nothing installed for the refused downgrade" test \
    "$(wc -l < installs.log)" = 1
$AG set Downgrade_Rev_Limit ""
$AG set Upgrade_Rule "https://pv.sprov.test:$PORT_foreign/fw/x.loads"
$AG upgrade 2>err.txt
check "an image from an untrusted server is refused" test $? = 1
has "untrusted image server named" err.txt "not trusted"
$AG set Upgrade_Rule ""

# kill -9 at random points while a large profile is applied: the store is
# always the old file or the new one, whole.
{ printf '<flat-profile>\n'
  for i in $(seq 1 5000); do printf '<GPP_P>v%d</GPP_P><Param_%d_>%d</Param_%d_>\n' $i $i $i $i; done
  printf '</flat-profile>\n'; } > fw/big.xml
cp st/params.xml old.xml
torn=0
for i in $(seq 1 12); do
	$AG resync "$B/big.xml" >/dev/null 2>&1 &
	p=$!
	sleep 0.0$((RANDOM % 10))
	kill -9 $p 2>/dev/null
	wait $p 2>/dev/null
	if ! xmllint --noout st/params.xml 2>/dev/null; then
		torn=$((torn + 1))
	elif ! cmp -s st/params.xml old.xml &&
	    ! grep -q '<Param_5000_>5000</Param_5000_>' st/params.xml; then
		torn=$((torn + 1))	# neither the old nor the whole new
	fi
done
check "kill -9 while applying: never a torn or corrupt store" test "$torn" = 0
check "after the kills the agent still works" $AG get Profile_Rule
check "and has removed any temporary file a kill left" test -z \
    "$(ls st | grep '\.tmp-')"
$AG resync "$B/big.xml" >/dev/null 2>&1
check "and applies the big profile whole" grep -q \
    '<Param_5000_>5000</Param_5000_>' st/params.xml

# The daemon: first resync at start (Random_Delay 0), SIGHUP resyncs now,
# SIGTERM stops; no test waits for real timer values.
$AG set Profile_Rule "https://pv.sprov.test:$PORT_pv/prov/\$MA.xml"
$AG set Resync_Random_Delay 0
$ST param device:000e08000001 Station_Name "From Run"
$AG -d run 2> run.log &
RUNPID=$!
for i in $(seq 1 100); do
	grep -q "Successful resync" run.log && break
	sleep 0.05
done
check "run: resyncs at start" test "$($AG get Station_Name)" = "From Run"
$ST param device:000e08000001 Station_Name "After HUP"
kill -HUP $RUNPID
for i in $(seq 1 100); do
	[ "$($AG get Station_Name)" = "After HUP" ] && break
	sleep 0.05
done
check "run: SIGHUP resyncs now" test "$($AG get Station_Name)" = "After HUP"
kill -TERM $RUNPID
wait $RUNPID
check "run: SIGTERM stops cleanly (exit 0)" test $? = 0
has "run: says it stopped" run.log "stopped"
$AG set Resync_Trigger_1 '"$PN" eq "no-such-model"'
$AG -d run 2> run2.log &
RUNPID=$!
for i in $(seq 1 100); do
	grep -q "suppressed" run2.log && break
	sleep 0.05
done
kill -TERM $RUNPID; wait $RUNPID
has "run: a false Resync_Trigger suppresses the due resync" run2.log \
    "resync suppressed by Resync_Trigger"
$AG set Resync_Trigger_1 ""

# Reports arrive at sprovd and are readable from the store.
$AG set Software_Version sip88xx.11-3-1MPP0001-609
$AG set Report_Rule "https://pv.sprov.test:$PORT_pv/report/\$MA.xml"
check "report: sent" $AG report
$SPROVCTL -u https://pv.sprov.test:$APORT --resolve pv.sprov.test:$APORT:127.0.0.2 \
    --cert adm/ops.crt --key adm/ops.key --cacert ca/server-ca.crt \
    report 000e08000001 > rep.txt
has "report: readable through sprovctl" rep.txt "<Software_Version>"
check "report: stored by sprovd" sh -c "$ST report 000e08000001 | grep -q \
    '<Station_Name>After HUP</Station_Name>'"
check "report: firmware recorded from Software_Version" sh -c "$ST \
    device-show 000e08000001 | grep -q 'firmware=sip88xx.11-3-1MPP0001-609'"
$AG set HTTP_Report_Method PUT
check "report: --status with PUT" $AG report \
    "[--status] https://pv.sprov.test:$PORT_pv/report/\$MA.xml"
check "report: --status sent only status parameters" sh -c "$ST report \
    000e08000001 | grep -q Software_Version && ! $ST report 000e08000001 |
    grep -q Station_Name"
$AG set GPP_K delta-one
$AG report "[--delta] https://pv.sprov.test:$PORT_pv/report/\$MA.xml" >/dev/null
$AG set GPP_K delta-two
$AG report "[--delta] https://pv.sprov.test:$PORT_pv/report/\$MA.xml" >/dev/null
check "report --delta: only what changed since the last report" sh -c "$ST \
    report 000e08000001 | grep -q '<GPP_K>delta-two</GPP_K>' && test \
    \$($ST report 000e08000001 | grep -c '<') -le 4"
# --key: the report travels encrypted; the openssl CLI reads it back from
# what sprovctl prints.
$AG set HTTP_Report_Method POST
$AG set GPP_SB 'Report Secret'
check "report --key: sent" $AG report \
    "[--key \$SB] https://pv.sprov.test:$PORT_pv/report/\$MA.xml"
$SPROVCTL -u https://pv.sprov.test:$APORT --resolve pv.sprov.test:$APORT:127.0.0.2 \
    --cert adm/ops.crt --key adm/ops.key --cacert ca/server-ca.crt \
    report 000e08000001 > rep.enc
check "report --key: the stored body is not clear text" sh -c "head -c 8 \
    rep.enc | grep -q Salted__ && ! grep -q Software_Version rep.enc"
check "report --key: openssl enc -d decrypts it" sh -c "openssl enc -d \
    -aes-256-cbc -md sha256 -k 'Report Secret' -in rep.enc 2>/dev/null |
    grep -q '<Software_Version>sip88xx.11-3-1MPP0001-609</Software_Version>'"
check "report --key: the key is not in the body" sh -c "! grep -q \
    'Report Secret' rep.enc"
# Two rules in one value (MPP): both are sent, each with its options.
$AG set GPP_K two-rules
$AG set Report_Rule "[--status] https://pv.sprov.test:$PORT_pv/report/\$MA.xml [--key \$SB] https://pv.sprov.test:$PORT_pv/report/\$MA.xml"
$AG report > two.txt
check "report: two rules, both sent" test $? = 0 -a \
    "$(grep -c '^reported' two.txt)" = 2
has "report: the second rule encrypts" two.txt "(encrypted)"
$AG set Report_Rule "https://pv.sprov.test:$PORT_pv/report/\$(MA).xml [--delta] https://pv.sprov.test:$PORT_pv/report/\$MA.xml?second"
$AG report > two.txt
check "report: two rules, the first with a \$(MA) macro" test $? = 0 -a \
    "$(grep -c '^reported' two.txt)" = 2
# A --delta to a URL never reported to sends everything, even right
# after a full report to another URL.
$AG report "https://pv.sprov.test:$PORT_pv/report/\$MA.xml [--delta] https://pv.sprov.test:$PORT_pv/report/\$MA.xml?third" >/dev/null
check "report --delta: each URL keeps its own record" test \
    "$($ST report 000e08000001 | grep -c '<')" -gt 40
$AG set GPP_K after-two
$AG report "[--delta] https://pv.sprov.test:$PORT_pv/report/\$MA.xml?third" >/dev/null
check "report --delta: then only what changed" sh -c "$ST report \
    000e08000001 | grep -q '<GPP_K>after-two</GPP_K>' && test \
    \$($ST report 000e08000001 | grep -c '<') -le 4"
printf '<flat-profile><GPP_K ua="rw"/></flat-profile>' > fw/ua.xml
$AG resync "https://pv.sprov.test:$PORT_pv/fw/ua.xml"
$AG report "[--delta] https://pv.sprov.test:$PORT_pv/report/\$MA.xml?third" >/dev/null
check "report --delta: a change of ua alone is a change" sh -c "$ST report \
    000e08000001 | grep -q '<GPP_K ua=\"rw\">after-two</GPP_K>'"
$AG set GPP_J ''
refuse "report: an empty --key is refused, nothing sent in clear" 1 \
    "--key is empty" $AG report "[--key \$J] https://pv.sprov.test:$PORT_pv/report/\$MA.xml"
$AG set Report_Rule "https://a.test/1 https://a.test/2 https://a.test/3"
refuse "report: three rules refused" 1 "more than two rules" $AG report
$AG set Report_Rule "https://pv.sprov.test:$PORT_pv/report/\$MA.xml"
refuse "report to a foreign-CA server is refused" 1 "not trusted" \
    $AG report "https://pv.sprov.test:$PORT_foreign/report/\$MA.xml"

# nginx with ssl_verify_client and a certificate from sprov-ca: a static
# profile, Basic authentication (--uid/--pwd), a 301, a foreign CA.
mkdir -p www/auth ngx
printf '<flat-profile><GPP_D>from-nginx</GPP_D></flat-profile>\n' > www/new.xml
printf '<flat-profile><GPP_E>authenticated</GPP_E></flat-profile>\n' \
    > www/auth/p.xml
printf 'phone:%s\n' "$(openssl passwd -apr1 'pw 123')" > htpasswd
for try in 1 2 3 4 5; do
	NP=$((20000 + RANDOM % 12000))
	NF=$((NP + 1))
	cat > nginx.conf <<NGX
daemon off;
master_process off;
pid $T/ngx/nginx.pid;
error_log $T/ngx/error.log;
events { worker_connections 64; }
http {
	access_log $T/ngx/access.log;
	client_body_temp_path $T/ngx; proxy_temp_path $T/ngx;
	fastcgi_temp_path $T/ngx; uwsgi_temp_path $T/ngx; scgi_temp_path $T/ngx;
	server {
		listen 127.0.0.2:$NP ssl;
		ssl_certificate $T/pv.crt;
		ssl_certificate_key $T/pv.key;
		ssl_client_certificate $T/ca/device-ca.crt;
		ssl_verify_client on;
		root $T/www;
		location /auth/ {
			auth_basic "provisioning";
			auth_basic_user_file $T/htpasswd;
		}
		location = /old.xml {
			return 301 https://pv.sprov.test:$NP/new.xml;
		}
		location = /down.xml {
			return 302 http://pv.sprov.test:$NF/new.xml;
		}
	}
	server {
		listen 127.0.0.2:$NF ssl;
		access_log $T/ngx/foreign.log;
		ssl_certificate $T/foreign.crt;
		ssl_certificate_key $T/foreign.key;
		ssl_client_certificate $T/ca/device-ca.crt;
		ssl_verify_client on;
		root $T/www;
	}
}
NGX
	nginx -c $T/nginx.conf -p $T/ngx 2>ngx/start.log &
	NGXPID=$!
	sleep 0.4
	# nginx keeps retrying a port it cannot bind for seconds before it
	# gives up: alive is not enough, it must have bound both.
	if kill -0 $NGXPID 2>/dev/null && ! grep -q 'bind()' \
	    ngx/start.log ngx/error.log 2>/dev/null; then
		break
	fi
	kill $NGXPID 2>/dev/null; wait $NGXPID 2>/dev/null
	: > ngx/error.log
done
check "nginx runs as a test peer" kill -0 $NGXPID
NB="https://pv.sprov.test:$NP"
$AG resync "$NB/new.xml"
check "nginx (ssl_verify_client): profile applied" test \
    "$($AG get GPP_D)" = from-nginx
check "nginx saw the agent's certificate-authenticated request" grep -q \
    '"GET /new.xml HTTP/1.1" 200' ngx/access.log
$AG resync "$NB/auth/p.xml" 2>err.txt
check "401 without credentials fails" test $? = 1
has "401 named" err.txt "HTTP 401"
$AG resync "[--uid phone --pwd \"pw 123\"] $NB/auth/p.xml"
check "401 with --uid/--pwd: applied" test "$($AG get GPP_E)" = authenticated
# Report_Rule's --uid/--pwd: nginx answers a report with 401 without
# them and, once they are accepted, 405 (static files take no POST).
refuse "report without credentials: 401" 1 "HTTP 401" \
    $AG report "$NB/auth/p.xml"
refuse "report with --uid/--pwd: past the authentication (405)" 1 \
    "HTTP 405" $AG report "[--uid phone --pwd \"pw 123\"] $NB/auth/p.xml"
$AG set GPP_D before-redirect
$AG resync "$NB/old.xml"
check "301 followed (and verified anew)" test "$($AG get GPP_D)" = from-nginx
refuse "a redirect from https to http is refused" 1 \
    "refused (not https)" $AG resync "$NB/down.xml"
check "the http target saw nothing" test ! -s ngx/foreign.log
$AG resync "https://pv.sprov.test:$NF/new.xml" 2>err.txt
check "nginx with a foreign-CA certificate: refused" test $? = 1
has "nginx with a foreign-CA certificate: refused for trust, not for want of a server" \
    err.txt "server certificate not trusted"
check "nginx's access log shows no request from the agent" test ! -s \
    ngx/foreign.log
kill $NGXPID 2>/dev/null
wait $NGXPID 2>/dev/null

kill $PID_pv $PID_two $PID_other $PID_foreign $PID_old 2>/dev/null
wait $PID_pv $PID_two $PID_other $PID_foreign $PID_old 2>/dev/null
check "no sanitizer report" sh -c "! cat *.log | grep -E \
    'Sanitizer|runtime error'"
done_testing
