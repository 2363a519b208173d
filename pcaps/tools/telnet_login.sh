#!/bin/sh
# Stand-in for /bin/login behind telnetd (-E), for cleartrace test captures: no system
# account is created.  Prompts "login:" and "Password:" (echo off, like login), compares
# with the two lines of CREDFILE (user, password: PLANTED LEAK-TEST values written by
# make-captures.sh into its temp dir), and on success runs an interactive /bin/sh as
# nobody (setpriv) with the prompt "USER@pbx-dect:~$ ".
#   usage (telnetd): telnetd -h -E "/bin/sh telnet_login.sh CREDFILE"
cred=$1
want_user=$(sed -n 1p "$cred"); want_pass=$(sed -n 2p "$cred")
printf '\nDebian GNU/Linux 12\n\npbx-dect login: '
IFS= read -r user
stty -echo
printf 'Password: '
IFS= read -r pass
stty echo
printf '\n'
# the terminal sends CR (mapped to NL by icrnl); drop a stray CR anyway
user=$(printf '%s' "$user" | tr -d '\r'); pass=$(printf '%s' "$pass" | tr -d '\r')
if [ "$user" != "$want_user" ] || [ "$pass" != "$want_pass" ]; then
    sleep 1
    printf '\nLogin incorrect\n'
    exit 1
fi
printf 'Linux pbx-dect 6.1.0 x86_64\n\nLast login: Sun Nov 22 20:40:02 2026 from 127.0.0.1\n'
exec setpriv --reuid=65534 --regid=65534 --clear-groups \
    env -i HOME=/ PATH=/usr/bin:/bin TERM="${TERM:-dumb}" USER="$user" LOGNAME="$user" \
    PS1="$user@pbx-dect:~\$ " /bin/sh -i
