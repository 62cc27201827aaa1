# Sourced by the setup scripts: `apt_install WHO WHAT PACKAGE…` installs Debian packages with apt-get, as root or
# through sudo; without either it says WHO needs WHAT and exits 1.
apt_install() {
  local who=$1 what=$2
  shift 2
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo=(sudo)
    else
      echo "$who: $what missing and neither root nor sudo is available" >&2
      exit 1
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@"
}
