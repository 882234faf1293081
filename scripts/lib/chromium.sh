# Headless Chromium for the console's browser tests, sourced by scripts/test.sh
# (and usable alone: `source scripts/lib/chromium.sh && chromium_ensure`).
#
# chromium_ensure installs Debian's `chromium` package if no chromium binary
# is found (once per machine) and exports STEPBOX_TEST_CHROMIUM, the binary
# the tests in tests/all/console drive over the DevTools protocol.

source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"

chromium_find() {
    local name
    for name in chromium chromium-browser google-chrome; do
        if command -v "$name" >/dev/null; then
            command -v "$name"
            return 0
        fi
    done
    return 1
}

chromium_install() {
    apt_install chromium
}

chromium_ensure() {
    local bin
    bin=$(chromium_find) || { chromium_install && bin=$(chromium_find); } || {
        echo "no chromium binary found, even after installing" >&2
        return 1
    }
    export STEPBOX_TEST_CHROMIUM=$bin
    echo "==> $("$bin" --version 2>/dev/null | head -1) ($bin)"
}
