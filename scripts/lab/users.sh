# shellcheck shell=bash
# The lab's optional non-root deploy user (`up --user-mode sudo`): a per-lab system
# account that logs in with the lab's client key, a sudoers file that lets it run the hvnet
# launcher as root and nothing else, and that launcher installed root-owned at its fixed
# path in each host. The path is a directory of the host's own, bound in its mount
# namespace, so parallel labs (and the machine itself) never share one. The account and
# the sudoers file live in the machine's /etc, so their names carry the lab prefix.

readonly LAB_LAUNCHER_DIR=/usr/local/libexec/hvnet
readonly LAB_LAUNCHER="$LAB_LAUNCHER_DIR/hvnet-launch"

users_init() {
  LAB_USER="hvl-$PREFIX"
  SUDOERS_FILE="/etc/sudoers.d/hvnet-lab-$PREFIX"
  USER_FILE="$DIR/user"
  USER_MARK="hvnet lab $PREFIX"
}

# The account exists and this lab made it (its comment field says so).
users_ours() {
  local gecos
  gecos="$(getent passwd "$LAB_USER" | cut -d: -f5)"
  [[ "$gecos" == "$USER_MARK" ]]
}

# users_current MODE: what the lab has matches MODE (root or sudo).
users_current() {
  if [[ "$1" == sudo ]]; then
    [[ -f "$USER_FILE" && -f "$SUDOERS_FILE" ]] && users_ours
  else
    [[ ! -f "$USER_FILE" ]]
  fi
}

users_auth_keys() { printf '/home/%s/.ssh/authorized_keys\n' "$LAB_USER"; }

# Prints the user hosts are reached as.
users_login() {
  if [[ -f "$USER_FILE" ]]; then printf '%s\n' "$LAB_USER"; else printf 'root\n'; fi
}

# users_setup MODE LAUNCHER: the account and its sudoers file (sudo mode only).
users_setup() {
  local mode="$1" launcher="$2" t tmp
  [[ "$mode" == sudo ]] || return 0
  for t in sudo visudo useradd userdel usermod getent; do
    command -v "$t" >/dev/null || die "--user-mode sudo needs '$t' (scripts/setup-debian.sh installs sudo)"
  done
  [[ -f "$launcher" ]] || die "no launcher at $launcher: run 'make build' (or pass --launcher PATH)"
  # Labs of other clones take other locks than ours, and useradd gives up at once when
  # another holds /etc/passwd's lock: try a few times.
  for t in 1 2 3 4 5; do
    getent passwd "$LAB_USER" >/dev/null && break
    useradd --system --create-home --home-dir "/home/$LAB_USER" --shell /bin/sh \
      --comment "$USER_MARK" "$LAB_USER" && break
    sleep 0.5
  done
  users_ours || die "user $LAB_USER exists and was not made by lab $PREFIX; remove it or use another --name"
  # No password, yet not locked: sshd without PAM refuses key logins to locked accounts.
  usermod -p '*' "$LAB_USER"
  # Its own copy of the lab's client key: sshd reads a user's keys as that user, and DIR
  # may be a directory only root can enter.
  install -d -o "$LAB_USER" -g "$LAB_USER" -m 0700 -- "/home/$LAB_USER/.ssh"
  install -o "$LAB_USER" -g "$LAB_USER" -m 0600 -- "$CLIENT_KEY.pub" "$(users_auth_keys)"
  tmp="$DIR/sudoers.tmp"
  printf '%s ALL=(root) NOPASSWD: %s\n' "$LAB_USER" "$LAB_LAUNCHER" >"$tmp"
  visudo -cqf "$tmp" || die "visudo rejects the lab's sudoers line"
  install -o root -g root -m 0440 -- "$tmp" "$SUDOERS_FILE"
  rm -f -- "$tmp"
  printf '%s\n' "$LAB_USER" >"$USER_FILE"
}

# users_prepare_host I LAUNCHER: the launcher, root-owned, at its fixed path in host I.
users_prepare_host() {
  local i="$1" launcher="$2" d
  [[ -f "$USER_FILE" ]] || return 0
  d="$(host_dir "$i")/libexec-hvnet"
  # The mount point on the shared root filesystem stays (empty) after `down`, as
  # /var/lib/hvnet does: removing it could detach another lab's launcher.
  mkdir -p -- "$LAB_LAUNCHER_DIR"
  mkdir -p -- "$d"
  chown 0:0 -- "$d"
  chmod 0755 -- "$d"
  install -o root -g root -m 0755 -- "$launcher" "$d/hvnet-launch"
  nsenter --mount="$(host_mntns "$i")" -- mount --bind -- "$d" "$LAB_LAUNCHER_DIR"
}

# users_teardown: the account (with its home), the sudoers file and the record, by
# their per-lab names only; after the lab's processes are stopped (userdel refuses
# a user with running processes). The launchers go with the host directories.
users_teardown() {
  local home t
  rm -f -- "$SUDOERS_FILE" "$DIR/sudoers.tmp"
  if getent passwd "$LAB_USER" >/dev/null && users_ours; then
    home="$(getent passwd "$LAB_USER" | cut -d: -f6)"
    for t in 1 2 3 4 5; do
      userdel -- "$LAB_USER" && break
      sleep 0.5
    done
    if [[ "$home" == "/home/$LAB_USER" ]]; then rm -rf -- "$home"; fi
  fi
  rm -f -- "$USER_FILE"
}
