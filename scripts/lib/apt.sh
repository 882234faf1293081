# Installs Debian packages the tests need (sourced by scripts/lib/postgres.sh
# and scripts/lib/chromium.sh): `apt_install PACKAGE…`, through sudo unless root.
apt_install() {
    echo "==> installing $* (Debian's package)"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
