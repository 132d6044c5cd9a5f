#!/usr/bin/env bash
# sprov-ca account: the provider accounts of the CA portal and EST, from
# the command line an operator uses, checked in the database with sqlite3.
. "$(dirname "$0")/lib/tap.sh"
CA="$SPROV_CA -d ca"
DB=ca/portal.db
$CA init >/dev/null
printf 'correct horse battery\n' > pw
chmod 600 pw

check "org-add" $CA account org-add "Telco SA"
check "domain-add" $CA account domain-add "Telco SA" telco.net
check "user-add (password from a file)" $CA account user-add "Telco SA" \
    ops@telco --passphrase-file pw
check "the database is 0600" test "$(stat -c %a $DB)" = 600
h=$(sqlite3 $DB "SELECT hash FROM users WHERE name='ops@telco'")
check "the password is stored as an scrypt hash" test "${h#scrypt\$15\$8\$1\$}" != "$h"
check "... which does not hold the password" sh -c "! echo '$h' |
    grep -q 'horse'"
$CA account list > list.txt
has "list: the org" list.txt "org Telco SA"
has "list: its domain" list.txt "  domain telco.net"
has "list: its user" list.txt "  user ops@telco (last login never)"

refuse "org-add twice" 1 "Telco SA" $CA account org-add "Telco SA"
refuse "a domain with SQL in it" 1 "letters, digits and '-'" \
    $CA account domain-add "Telco SA" "x';DROP TABLE users;--.net"
check "... and the users are still there" test "$(sqlite3 $DB \
    'SELECT count(*) FROM users')" = 1
refuse "a wildcard domain" 1 "domain" $CA account domain-add "Telco SA" \
    "*.telco.net"
check "another org" $CA account org-add "Other Inc"
refuse "a domain another org holds" 1 "telco.net" $CA account domain-add \
    "Other Inc" pv.telco.net
refuse "a user of an unknown org" 1 "unknown org" $CA account user-add \
    Nope u2 --passphrase-file pw
refuse "user-add without a password file" 1 "--passphrase-file" \
    $CA account user-add "Telco SA" u3
printf 'short\n' > short
chmod 600 short
refuse "a password under 12 bytes" 1 "12" $CA account user-add \
    "Telco SA" u4 --passphrase-file short
chmod 644 pw
refuse "a password file others may read" 1 "pw" $CA account passwd \
    ops@telco --passphrase-file pw
chmod 600 pw
check "disable" $CA account disable ops@telco
$CA account list > list2.txt
has "list shows it disabled" list2.txt "ops@telco [disabled]"
check "enable" $CA account enable ops@telco
printf 'another long password\n' > pw2
chmod 600 pw2
check "passwd" $CA account passwd ops@telco --passphrase-file pw2
check "... changes the stored hash" test "$(sqlite3 $DB \
    "SELECT hash FROM users WHERE name='ops@telco'")" != "$h"
check "domain-remove" $CA account domain-remove "Telco SA" telco.net
refuse "an unknown subcommand names the usage" 1 "usage: account" \
    $CA account frob
if [ -n "${SPROV_STORECTL:-}" ]; then
	refuse "the accounts file is never taken for a provisioning store" 1 \
	    "not a sprov store" $SPROV_STORECTL "sqlite:$T/$DB" device-show \
	    000e08000001
else
	skip "the accounts file is not a store" "SPROV_STORECTL not set"
fi
done_testing
