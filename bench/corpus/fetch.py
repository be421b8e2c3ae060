"""Download Debian packages that ship configuration files and unpack them (nothing else from outside).

    python3 -m bench.corpus.fetch [--cache /work/corpus/debs] [--update] [--packages a,b,c]

Each package is fetched with ``apt-get download`` into ``CACHE/deb/`` and unpacked with ``dpkg-deb -x``
into ``CACHE/tree/PKG/``. Packages not in the archive are skipped and listed; already unpacked ones are
kept. ``CACHE/packages.json`` records what was unpacked (name, version, file count).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

DEFAULT_CACHE = Path("/work/corpus/debs")

# Packages with rich configuration (conffiles, commented examples, docs/examples). Large ones with few
# config files (container runtimes, big web apps) are left out to keep the download small.
PACKAGES = """
389-ds-base activemq adminer amanda-common amanda-server amavisd-new anacron apache2 apache2-bin apache2-utils
apcupsd artemis at auditd autofs backuppc bacula-common bacula-director bacula-fd bacula-sd barman bind9 bind9-utils
bitlbee borgbackup ceph-base ceph-common cfengine3 chrony cifs-utils cinder-common clamav-daemon
clamav-freshclam cloud-init collectd collectd-core corosync coturn courier-authdaemon courier-imap cron cups
cups-browsed cups-daemon cyrus-common cyrus-imapd cyrus-sasl2-doc darkice davfs2 deluged dex dhcpcd5 dirvish dma
dnsmasq dnsmasq-base dokuwiki dovecot-core dovecot-imapd dovecot-ldap dovecot-mysql dovecot-pgsql dovecot-pop3d
dovecot-sieve drbd-utils duplicity ejabberd esmtp etcd-client etckeeper exim4-base exim4-config fancontrol
fetchmail freeradius freeradius-config freeradius-ldap freeradius-mysql galera-4 ganeti getmail6 glance-common
glusterfs-server gosa gunicorn haproxy heat-common heimdal-kdc hostapd hylafax-server icecast2 icinga2-common
ifupdown incron influxdb inspircd isc-dhcp-client isc-dhcp-server isync kamailio kea-common kea-dhcp4-server
keepalived keystone knot krb5-admin-server krb5-config krb5-kdc ldap-utils ldapscripts libapache2-mod-auth-mellon
libapache2-mod-auth-openidc libapache2-mod-security2 libcharon-extra-plugins libnss-ldapd libpam-krb5
libpam-ldapd libpam-radius-auth libsasl2-modules libvirt-clients libvirt-daemon-system lighttpd lm-sensors login
logrotate lvm2 lxc mailman3 mariadb-client mariadb-common mariadb-server mariadb-server-core mdadm memcached
mgetty minidlna modsecurity-crs monit mosquitto mpd msmtp multipath-tools munin munin-node mutt mysql-common
mysqltuner nagios-nrpe-server nagios4-common neomutt netdata-core network-manager neutron-common nfs-common
nfs-kernel-server nginx nginx-common ngircd nova-common nsd nslcd ntp ntpsec nullmailer nut-client nut-server
ocserv offlineimap open-iscsi openconnect opendkim opendmarc openssh-client openssh-server openstack-dashboard
openvpn pacemaker passwd patroni pdns-backend-mysql pdns-recursor pdns-server percona-toolkit pgbackrest
pgbouncer pgpool2 php8.2-common php8.2-fpm phpmyadmin postfix postfixadmin postgresql-15 postgresql-15-pgaudit
postgresql-common ppp pppconfig pppoe pppoeconf pptpd proftpd-core proftpd-mod-mysql prometheus
prometheus-alertmanager prometheus-mysqld-exporter prometheus-node-exporter prometheus-postgres-exporter prosody
puppet puppet-agent puppetserver pure-ftpd qemu-system-common rabbitmq-server radosgw redis-server redis-tools
redmine repmgr roundcube roundcube-core rsnapshot rspamd rsyslog rsyslog-mysql rsyslog-pgsql rsyslog-relp
s3fs samba samba-common samba-common-bin sasl2-bin shairport-sync shibboleth-sp-utils simplesamlphp slapd
smartmontools smokeping snmp snmpd spamassassin sphinxsearch squid squid-common ssmtp sssd-common sssd-ldap
strongswan-charon strongswan-starter stunnel4 sudo supervisor swift swift-proxy syslog-ng-core systemd
systemd-resolved systemd-timesyncd tacacs+ targetcli-fb tgt tomcat10 tomcat10-common transmission-daemon tt-rss
unbound uucp uwsgi varnish vpnc vsftpd winbind wireguard-tools wordpress wpasupplicant wvdial xl2tpd
zabbix-agent zabbix-frontend-php zabbix-server-pgsql znc zookeeper
""".split()


def available(pkg: str) -> bool:
    res = subprocess.run(["apt-cache", "show", "--no-all-versions", pkg], capture_output=True, text=True)
    return res.returncode == 0 and "\nFilename:" in "\n" + res.stdout


def download(pkgs: list[str], debdir: Path) -> None:
    """``apt-get download`` in batches; a batch that fails is retried one package at a time."""
    for i in range(0, len(pkgs), 40):
        batch = [p for p in pkgs[i:i + 40] if not list(debdir.glob(f"{p}_*.deb"))]
        if not batch:
            continue
        if subprocess.run(["apt-get", "download", "-q", *batch], cwd=debdir, capture_output=True).returncode:
            for p in batch:
                subprocess.run(["apt-get", "download", "-q", p], cwd=debdir, capture_output=True)


def extract(pkg: str, debdir: Path, treedir: Path) -> dict | None:
    debs = sorted(debdir.glob(f"{pkg}_*.deb"))
    if not debs:
        return None
    dest = treedir / pkg
    if not (dest / ".done").exists():
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        if subprocess.run(["dpkg-deb", "-x", str(debs[-1]), str(dest)], capture_output=True).returncode:
            return None
        (dest / ".done").write_text(debs[-1].name + "\n")
    files = sum(1 for p in dest.rglob("*") if p.is_file())
    version = debs[-1].name.split("_")[1]
    return {"package": pkg, "version": version, "deb": debs[-1].name, "files": files}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--update", action="store_true", help="run apt-get update first")
    ap.add_argument("--packages", help="comma-separated list instead of the built-in one")
    args = ap.parse_args(argv)
    pkgs = args.packages.split(",") if args.packages else PACKAGES
    if args.update:
        subprocess.run(["apt-get", "update", "-q"], check=False)
    debdir, treedir = args.cache / "deb", args.cache / "tree"
    debdir.mkdir(parents=True, exist_ok=True)
    treedir.mkdir(parents=True, exist_ok=True)
    present = [p for p in pkgs if available(p)]
    missing = sorted(set(pkgs) - set(present))
    download(present, debdir)
    unpacked = [info for p in present if (info := extract(p, debdir, treedir))]
    failed = sorted(set(present) - {u["package"] for u in unpacked})
    (args.cache / "packages.json").write_text(json.dumps(
        {"packages": unpacked, "not_in_archive": missing, "failed": failed}, indent=1) + "\n")
    print(f"{len(unpacked)} package(s) unpacked into {treedir}; {len(missing)} not in the archive, "
          f"{len(failed)} failed", file=sys.stderr)
    return 0 if len(unpacked) >= 150 else 1


if __name__ == "__main__":
    sys.exit(main())
