# Headless Chromium for the console's browser tests, sourced by scripts/test.sh
# (and usable alone: `source scripts/lib/chromium.sh && chromium_ensure`).
#
# chromium_ensure installs Debian's `chromium` and `chromium-driver` packages
# if no chromium or chromedriver binary is found (once per machine) and
# exports STEPBOX_TEST_CHROMIUM and STEPBOX_TEST_CHROMEDRIVER, which the
# tests in tests/all/console drive over WebDriver.

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
    local bin driver
    bin=$(chromium_find) || { chromium_install && bin=$(chromium_find); } || {
        echo "no chromium binary found, even after installing" >&2
        return 1
    }
    driver=$(command -v chromedriver) || { apt_install chromium-driver && driver=$(command -v chromedriver); } || {
        echo "no chromedriver binary found, even after installing chromium-driver" >&2
        return 1
    }
    export STEPBOX_TEST_CHROMIUM=$bin STEPBOX_TEST_CHROMEDRIVER=$driver
    echo "==> $("$bin" --version 2>/dev/null | head -1) ($bin), $("$driver" --version 2>/dev/null | cut -d' ' -f1-2) ($driver)"
}
